cargo install --locked --root "$HOME/.cleanpipe" cleanpipe --version "$CLEANPIPE_VERSION"
export PATH="$HOME/.cleanpipe/bin:$PATH"
# Registry login where cleanpipe reads it (a private Docker config, removed at the end).
DOCKER_CONFIG=$(mktemp -d)
export DOCKER_CONFIG
trap 'rm -rf "$DOCKER_CONFIG"' EXIT
auth=$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 | tr -d '[:space:]')
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" "$auth" > "$DOCKER_CONFIG/config.json"
