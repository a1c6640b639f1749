package serving

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/serving/engine"
)

// load loads a registry version into a ready scorer, without serving it.
func (s *Server) load(version string) (*servingModel, error) {
	l, err := s.reg.Load(version)
	if err != nil {
		return nil, err
	}
	m, err := action.FromLoaded(l)
	if err != nil {
		return nil, err
	}
	sc, err := engine.NewModelScorer(m)
	if err != nil {
		return nil, err
	}
	if l.Version.Family == action.FamilyGBDT {
		// Partial evaluation: the same trees, decoded again from the artifact
		// as gbdt's own type (action.Model keeps them private); UseBound
		// checks they predict exactly what m does before using them.
		if g, err := action.DecodeGBDT(l.Artifact.Payload); err != nil {
			s.log.Warn("gbdt partial evaluation off", "version", l.Version.Name, "err", err)
		} else if err := sc.UseBound(g, false); errors.Is(err, engine.ErrBoundSlower) {
			s.log.Info("gbdt partial evaluation off", "version", l.Version.Name, "why", err)
		} else if err != nil {
			s.log.Warn("gbdt partial evaluation off", "version", l.Version.Name, "err", err)
		}
	}
	return &servingModel{scorer: sc, version: l.Version.Name, family: l.Version.Family, hash: l.Version.Hash, loaded: time.Now()}, nil
}

// swap serves m from now on; requests in flight keep the model they loaded.
func (s *Server) swap(m *servingModel) {
	s.scorer.Store(m)
	s.m.setModel(m.version)
	s.log.Info("serving model", "version", m.version, "family", m.family)
}

// reload serves the registry's promoted model. On failure the current model
// stays (or, with none, decisions fall back with the error as the reason).
func (s *Server) reload() error {
	s.promote.Lock()
	defer s.promote.Unlock()
	v, err := s.reg.Promoted()
	if err != nil {
		if cur := s.scorer.Load(); cur.scorer == nil {
			s.scorer.Store(&servingModel{err: fmt.Sprintf("no model is promoted: %v", err)})
		}
		return err
	}
	m, err := s.load(v.Name)
	if err != nil {
		if cur := s.scorer.Load(); cur.scorer == nil {
			s.scorer.Store(&servingModel{err: fmt.Sprintf("model %s failed to load: %v", v.Name, err)})
		}
		return fmt.Errorf("load %s: %w", v.Name, err)
	}
	s.swap(m)
	return nil
}

// reloadIfChanged reloads when the registry's promoted version is not the one
// served (a promotion made with the CLI).
func (s *Server) reloadIfChanged() error {
	v, err := s.reg.Promoted()
	if err != nil {
		return nil // nothing promoted: keep what is served
	}
	if cur := s.scorer.Load(); cur.version == v.Name {
		return nil
	}
	return s.reload()
}

// ModelsResponse is the body of GET /v1/models.
type ModelsResponse struct {
	Serving  *ServingInfo       `json:"serving"`
	Fallback string             `json:"fallback,omitempty"`
	Promoted string             `json:"promoted,omitempty"`
	Versions []registry.Version `json:"versions"`
}

// ServingInfo describes the model being served.
type ServingInfo struct {
	Version  string    `json:"version"`
	Family   string    `json:"family"`
	Target   string    `json:"target"`
	Hash     string    `json:"hash,omitempty"`
	LoadedAt time.Time `json:"loaded_at"`
}

func (s *Server) getModels(c echo.Context) error {
	m := s.scorer.Load()
	res := ModelsResponse{Versions: []registry.Version{}}
	if m.scorer != nil {
		res.Serving = &ServingInfo{Version: m.version, Family: m.family, Target: m.scorer.Target(), Hash: m.hash, LoadedAt: m.loaded}
	} else {
		res.Fallback = m.err
	}
	if s.reg != nil {
		vs, err := s.reg.List()
		if err != nil {
			return err
		}
		if vs != nil {
			res.Versions = vs
		}
		if p, err := s.reg.Promoted(); err == nil {
			res.Promoted = p.Name
		}
	}
	return c.JSON(http.StatusOK, res)
}

// postPromote loads the version first and promotes it in the registry only
// when it loads, then swaps it in atomically.
func (s *Server) postPromote(c echo.Context) error {
	if s.reg == nil {
		return apiErr(http.StatusConflict, "", "no model registry is configured")
	}
	version := c.Param("version")
	if _, err := registry.ParseVersion(version); err != nil {
		return apiErr(http.StatusBadRequest, "version", err.Error())
	}
	s.promote.Lock()
	defer s.promote.Unlock()
	if _, err := s.reg.Get(version); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
			return apiErr(http.StatusNotFound, "version", "unknown model version")
		}
		return apiErr(http.StatusNotFound, "version", err.Error())
	}
	m, err := s.load(version)
	if err != nil {
		return apiErr(http.StatusUnprocessableEntity, "version", fmt.Sprintf("the model does not load, so it was not promoted: %v", err))
	}
	if err := s.reg.Promote(version); err != nil {
		return err
	}
	s.swap(m)
	return c.JSON(http.StatusOK, ServingInfo{Version: m.version, Family: m.family, Target: m.scorer.Target(), Hash: m.hash, LoadedAt: m.loaded})
}
