// Command trivial is the reference of the serving cross-check: an echo v4
// server whose one handler answers a fixed JSON object, measured with the same
// load generator in the same run as engage's decision endpoint.
//
// By default the answer is {"ok":true}. With --body it is that file's bytes
// (the cross-check passes a real decision answer, about 5.7 KB), written as a
// plain echo handler writes a blob with its length: the same bytes on the
// wire as engage's answer, without any of its work.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"strconv"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18181", "listen address (loopback only)")
	bodyFile := flag.String("body", "", "answer this file's bytes as application/json instead of {\"ok\":true}")
	flag.Parse()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	h := func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]bool{"ok": true}) }
	if *bodyFile != "" {
		body, err := os.ReadFile(*bodyFile)
		if err != nil {
			log.Fatal(err)
		}
		n := strconv.Itoa(len(body))
		h = func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderContentLength, n)
			return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
		}
	}
	e.GET("/", h)
	e.POST("/", h)
	log.Fatal(e.Start(*addr))
}
