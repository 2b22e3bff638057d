package api

import (
	"errors"
	"net/http"

	"github.com/smartworkcenters/swc/central/onboarding"
	"github.com/smartworkcenters/swc/central/store"
)

// importBundle creates a bundle of centers, places, doors, members, badges
// and passes all or nothing (package onboarding), for admins: JSON (an
// array per list), a zip of LIST.csv files, or one CSV file with
// ?list=LIST. With ?dry_run=true it checks everything and stores nothing;
// with ?door_secrets=true every imported door gets a broker secret, answered
// once (as POST /doors/{id}/secret does). Badges are recorded as added by
// the caller, as POST /badges does.
func (s *Server) importBundle(w http.ResponseWriter, r *http.Request, p *principal) error {
	var o store.ImportOptions
	for _, f := range []struct {
		name string
		v    *bool
	}{{"dry_run", &o.DryRun}, {"door_secrets", &o.DoorSecrets}} {
		switch v := r.URL.Query().Get(f.name); v {
		case "", "false":
		case "true":
			*f.v = true
		default:
			return errInvalid(f.name, "%q: want true or false", v)
		}
	}
	dryRun := o.DryRun
	b := onboarding.NewBundle()
	mt := mediaType(r)
	switch mt {
	case "application/json", "application/zip", "text/csv":
	default:
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "send Content-Type: application/json, application/zip (of LIST.csv files) or text/csv (with ?list=LIST)"}
	}
	list := r.URL.Query().Get("list")
	if cols, _ := onboarding.Columns(list); mt == "text/csv" && cols == nil {
		return errInvalid("list", "%q: a CSV body names its list, one of %v", list, store.BundleLists())
	}
	body, err := readBody(w, r, s.maxImp)
	if err != nil {
		return err
	}
	switch mt {
	case "application/json":
		b.AddJSON("body.json", body)
	case "application/zip":
		b.AddZip("body.zip", body)
	case "text/csv":
		b.AddCSV(list+".csv", list, body)
	}
	for i := range b.Badges {
		b.Badges[i].AddedBy = p.ID
	}
	res, err := onboarding.Import(r.Context(), s.st, b, o)
	var rep *onboarding.Report
	if errors.As(err, &rep) {
		s.log.InfoContext(r.Context(), "api: bundle import rejected", "problems", rep.Total, "dry_run", dryRun, "token", p.ID)
		return &Error{Status: http.StatusUnprocessableEntity, Code: "import_rejected",
			Message: "nothing imported: the bundle has problems", Problems: rep.Problems, Total: rep.Total}
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "api: bundle imported", "dry_run", dryRun, "objects", res.Total(), "centers", res.Centers,
		"doors", res.Doors, "members", res.Members, "badges", res.Badges, "token", p.ID)
	status := http.StatusCreated
	if dryRun {
		status = http.StatusOK
	}
	return writeJSON(w, status, res)
}
