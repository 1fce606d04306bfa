module github.com/ckptpack/ckptpack

go 1.26.8
