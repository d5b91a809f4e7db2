package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUIServesPageAndTalksToTemporal(t *testing.T) {
	srv := startTemporal(t, TemporalConfig{})
	ui, err := StartUI(context.Background(), UIConfig{TemporalHostPort: srv.HostPort()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ui.Stop()) })

	body := httpGet(t, ui.URL()+"/")
	require.Contains(t, body, "<html")

	// The API route goes through the UI's gRPC connection to the server.
	var ns struct {
		NamespaceInfo struct {
			Name string `json:"name"`
		} `json:"namespaceInfo"`
	}
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, ui.URL()+"/api/v1/namespaces/default")), &ns))
	require.Equal(t, DefaultNamespace, ns.NamespaceInfo.Name)
}

func TestUIStopReleasesPort(t *testing.T) {
	ui, err := StartUI(context.Background(), UIConfig{TemporalHostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	port := portOf(ui.Addr())
	require.NoError(t, ui.Stop())
	require.NoError(t, ui.Stop(), "a second Stop is a no-op")

	again, err := StartUI(context.Background(), UIConfig{TemporalHostPort: "127.0.0.1:1", Port: port})
	require.NoError(t, err)
	require.NoError(t, again.Stop())
}

func TestUIPortInUse(t *testing.T) {
	ln, err := listen("test", DefaultHost, 0)
	require.NoError(t, err)
	defer ln.Close()
	_, err = StartUI(context.Background(), UIConfig{TemporalHostPort: "127.0.0.1:1", Port: portOf(ln.Addr().String())})
	var pe *PortInUseError
	require.True(t, errors.As(err, &pe), "got %v", err)
	require.Equal(t, PartUI, pe.Part)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, b)
	return string(b)
}
