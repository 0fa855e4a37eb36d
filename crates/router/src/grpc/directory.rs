use std::sync::Arc;

use hotline_classify::taxonomy::Taxonomy;
use hotline_directory::{Directory, Division, Station};
use hotline_proto::v1 as pb;
use hotline_proto::v1::directory_server::Directory as DirectoryService;
use tonic::{Request, Response, Status};

use super::convert::{division_code, station_id};
use super::status::invalid;
use crate::error::RouterError;

pub struct DirectoryApi {
    directory: Arc<Directory>,
    /// The classifier's tree; `None` when automatic routing is not configured.
    taxonomy: Option<Taxonomy>,
}

impl DirectoryApi {
    pub fn new(directory: Arc<Directory>) -> Self {
        Self {
            directory,
            taxonomy: None,
        }
    }

    /// Lists this tree in `ListCategories` (the one the routing engine classifies into, so a
    /// category a person picks is one the engine knows).
    pub fn with_taxonomy(mut self, taxonomy: Option<Taxonomy>) -> Self {
        self.taxonomy = taxonomy;
        self
    }
}

fn division_out(d: &Division) -> pb::Division {
    pb::Division {
        code: d.code.to_string(),
        name: d.name.clone(),
        short_name: d.short_name.clone(),
        level: d.level.code().to_owned(),
        parent_code: d
            .parent
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

fn station_out(s: &Station) -> pb::StationInfo {
    pb::StationInfo {
        id: s.id.to_string(),
        kind: s.kind.code().to_owned(),
        kind_name: s.kind.name_zh().to_owned(),
        name: s.name.clone(),
        division_code: s.division.to_string(),
        level: s.level.code().to_owned(),
    }
}

fn required_division(field: &'static str, raw: &str) -> Result<hotline_core::DivisionCode, Status> {
    division_code(field, raw)
        .map_err(invalid)?
        .ok_or_else(|| invalid(hotline_core::InvalidInput::new(field, "is required")))
}

#[tonic::async_trait]
impl DirectoryService for DirectoryApi {
    async fn get_division(
        &self,
        request: Request<pb::GetDivisionRequest>,
    ) -> Result<Response<pb::Division>, Status> {
        let code = required_division("code", &request.into_inner().code)?;
        let division = self.directory.division(&code).ok_or_else(|| {
            RouterError::NotFound(format!("division {code} is not in the directory"))
        })?;
        Ok(Response::new(division_out(division)))
    }

    async fn list_divisions(
        &self,
        request: Request<pb::ListDivisionsRequest>,
    ) -> Result<Response<pb::ListDivisionsResponse>, Status> {
        let req = request.into_inner();
        let parent = match division_code("parent_code", &req.parent_code).map_err(invalid)? {
            Some(code) => code,
            None => self.directory.city().code.clone(),
        };
        if self.directory.division(&parent).is_none() {
            return Err(RouterError::NotFound(format!(
                "division {parent} is not in the directory"
            ))
            .into());
        }
        let divisions = self
            .directory
            .children(&parent)
            .iter()
            .filter_map(|code| self.directory.division(code))
            .map(division_out)
            .collect();
        Ok(Response::new(pb::ListDivisionsResponse { divisions }))
    }

    async fn get_station(
        &self,
        request: Request<pb::GetStationRequest>,
    ) -> Result<Response<pb::StationInfo>, Status> {
        let id = station_id("station_id", &request.into_inner().station_id).map_err(invalid)?;
        let station = self.directory.station(&id).ok_or_else(|| {
            RouterError::NotFound(format!("station {id} is not in the directory"))
        })?;
        Ok(Response::new(station_out(station)))
    }

    async fn list_stations(
        &self,
        request: Request<pb::ListStationsRequest>,
    ) -> Result<Response<pb::ListStationsResponse>, Status> {
        let code = required_division("division_code", &request.into_inner().division_code)?;
        if self.directory.division(&code).is_none() {
            return Err(
                RouterError::NotFound(format!("division {code} is not in the directory")).into(),
            );
        }
        let stations = self
            .directory
            .stations_at(&code)
            .iter()
            .map(station_out)
            .collect();
        Ok(Response::new(pb::ListStationsResponse { stations }))
    }

    async fn list_categories(
        &self,
        _request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let Some(taxonomy) = &self.taxonomy else {
            return Ok(Response::new(pb::ListCategoriesResponse::default()));
        };
        let categories = taxonomy
            .categories()
            .iter()
            .map(|c| pb::Category {
                code: c.code.as_str().to_owned(),
                name: c.name.clone(),
                parent_code: c
                    .parent
                    .as_ref()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(pb::ListCategoriesResponse {
            categories,
            version: taxonomy.version().to_owned(),
        }))
    }
}
