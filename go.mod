module github.com/baohan-dev/baohan

go 1.26.0
