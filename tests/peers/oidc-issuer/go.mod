module cleanpipe/oidc-issuer

go 1.25.0
