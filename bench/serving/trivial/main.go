// Command trivial is the reference of the serving cross-check: an echo v4
// server whose one handler answers a small JSON object, measured with the same
// load generator in the same run as engage's decision endpoint.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18181", "listen address (loopback only)")
	flag.Parse()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	h := func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]bool{"ok": true}) }
	e.GET("/", h)
	e.POST("/", h)
	log.Fatal(e.Start(*addr))
}
