package client

import (
	"context"
	"net/http"
)

// PublishDrill sends a drill's report (what `corebridge drill --report
// json` prints) to the bridge's POST /api/drill, which keeps it as its
// last drill for the dashboard's Proof panel. It needs an operator's
// token when the bridge has an auth file.
func (c *Client) PublishDrill(ctx context.Context, report any) error {
	return c.do(ctx, http.MethodPost, "/api/drill", report, nil, nil)
}
