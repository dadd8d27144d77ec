module github.com/synack-go/synack

go 1.26.0

require (
	github.com/google/gopacket v1.1.19
	golang.org/x/net v0.62.0
)

require golang.org/x/sys v0.50.0
