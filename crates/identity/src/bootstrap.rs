//! First start: an empty store gets an `admin` account with a random password, which the caller
//! writes once to the log and to `<data-dir>/initial-admin-password` (mode 0600), as GitLab and
//! Jenkins do. The administrator logs in with it and changes it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::IdentityError;

/// The file name under the data directory.
pub const INITIAL_ADMIN_PASSWORD_FILE: &str = "initial-admin-password";

/// The account created on first start; `password` is shown once and never stored in clear.
#[derive(Clone)]
pub struct InitialAdmin {
    pub login: String,
    pub password: String,
}

impl std::fmt::Debug for InitialAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialAdmin")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// Writes the initial password to `<data_dir>/initial-admin-password`, readable by the owner
/// only, and returns the path.
pub fn write_initial_password(
    data_dir: &Path,
    admin: &InitialAdmin,
) -> Result<PathBuf, IdentityError> {
    let path = data_dir.join(INITIAL_ADMIN_PASSWORD_FILE);
    write_private_file(&path, format!("{}\n", admin.password).as_bytes())?;
    Ok(path)
}

/// Writes `contents` to `path` with mode 0600 from the first byte (the file is never readable by
/// others, not even between create and chmod), replacing an older file.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), IdentityError> {
    let io = |what: &str, source| IdentityError::Io {
        what: format!("{what} {}", path.display()),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("creating the directory of", e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io("creating", e))?;
    // An older file keeps its mode through `open`; set it explicitly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io("restricting", e))?;
    }
    file.write_all(contents).map_err(|e| io("writing", e))?;
    file.sync_all().map_err(|e| io("syncing", e))?;
    Ok(())
}
