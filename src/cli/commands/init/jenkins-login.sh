# Install cleanpipe outside the checkout (README: "How cleanpipe is distributed"): from the
# Git URL in CLEANPIPE_GIT (a global property, set once) at the tag CLEANPIPE_VERSION.
if [ ! -x "$HOME/.cleanpipe/bin/cleanpipe" ] || [ "$("$HOME/.cleanpipe/bin/cleanpipe" --version)" != "cleanpipe ${CLEANPIPE_VERSION#v}" ]; then
    : "${CLEANPIPE_GIT:?set the global property CLEANPIPE_GIT to cleanpipe Git URL (README: How cleanpipe is distributed)}"
    cargo install --locked --force --root "$HOME/.cleanpipe" --git "$CLEANPIPE_GIT" --tag "$CLEANPIPE_VERSION" cleanpipe
fi
export PATH="$HOME/.cleanpipe/bin:$PATH"
# Registry login where cleanpipe reads it (a private Docker config, removed at the end).
DOCKER_CONFIG=$(mktemp -d)
export DOCKER_CONFIG
trap 'rm -rf "$DOCKER_CONFIG"' EXIT
auth=$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 | tr -d '[:space:]')
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" "$auth" > "$DOCKER_CONFIG/config.json"
