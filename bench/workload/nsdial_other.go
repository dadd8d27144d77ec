//go:build !linux

package workload

import (
	"context"
	"errors"
	"net"

	"github.com/synack-go/synack/internal/netns"
)

// nsDialer needs Linux's network namespaces; NewProxyHost refuses to run
// without them (netns.Available), so none is ever made elsewhere.
type nsDialer struct{}

func newNSDialer(*netns.NS) *nsDialer { return &nsDialer{} }

func (*nsDialer) dial(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("workload: network namespaces need Linux")
}

func (*nsDialer) close() {}
