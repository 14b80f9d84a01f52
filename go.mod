module github.com/theus-dev/theus

go 1.26

require (
	github.com/benbjohnson/immutable v0.4.3
	github.com/expr-lang/expr v1.17.8
	github.com/stretchr/testify v1.12.1
	go.yaml.in/yaml/v3 v3.0.6
)

require golang.org/x/exp v0.0.0-20220518171630-0b5c67f07fdf // indirect
