module trivydb-writer

go 1.19

require go.etcd.io/bbolt v1.3.6

require golang.org/x/sys v0.0.0 // indirect

replace go.etcd.io/bbolt => /usr/share/gocode/src/go.etcd.io/bbolt

replace golang.org/x/sys => /usr/share/gocode/src/golang.org/x/sys
