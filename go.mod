module github.com/smartworkcenters/swc

go 1.26

require (
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	periph.io/x/conn/v3 v3.7.3
	periph.io/x/devices/v3 v3.7.4
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
