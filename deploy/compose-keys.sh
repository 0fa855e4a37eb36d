#!/usr/bin/env bash
# Makes (or rotates) the JWT signing key ring that the compose routers share, at
# deploy/secrets/signing-keys.json, with the image's own `hotline staff rotate-signing-key`.
# The file ends up owned by the image's user (uid 10001) and readable by it alone.
#
#   docker-compose -f deploy/docker-compose.yml build migrate   # the image hotline:dev
#   bash deploy/compose-keys.sh
#   docker-compose -f deploy/docker-compose.yml up -d router-1 router-2 router-3   # after a rotation: restart them
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/secrets"
image=${HOTLINE_IMAGE:-hotline:dev}
docker run --rm --user 0 --network none -v "$dir:/keys" --entrypoint sh "$image" -c '
    hotline staff rotate-signing-key --keys /keys/signing-keys.json &&
    chown 10001:10001 /keys/signing-keys.json && chmod 0400 /keys/signing-keys.json'
echo "signing key ring: $dir/signing-keys.json"
