module cleanpipe/token-server

go 1.25.0
