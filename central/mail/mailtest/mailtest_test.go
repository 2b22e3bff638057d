package mailtest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/mail/mailtest"
)

// TestParse reads a message written by hand (not by package mail): an
// encoded subject, a quoted-printable text part, an HTML part and a base64
// attachment inside nested multiparts.
func TestParse(t *testing.T) {
	raw := strings.ReplaceAll(`From: a@example.org
To: b@example.org
Subject: =?ISO-8859-1?Q?R=E9servation?= =?UTF-8?B?IGNvbmZpcm3DqWU=?=
Message-ID: <x1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Votre r=C3=A9servation est confirm=C3=A9e. Une ligne tr=
=C3=A8s longue.
--inner
Content-Type: text/html; charset=UTF-8

<p>Votre r&eacute;servation</p>
--inner--
--outer
Content-Type: text/calendar; method=CANCEL; charset=UTF-8
Content-Disposition: attachment; filename="annulation.ics"
Content-Transfer-Encoding: base64

QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=
--outer--
`, "\n", "\r\n")
	m, err := mailtest.Parse([]byte(raw))
	require.NoError(t, err)
	require.Equal(t, "Réservation confirmée", m.Subject)
	require.Equal(t, "<x1@example.org>", m.MessageID)
	require.Equal(t, "Votre réservation est confirmée. Une ligne très longue.", m.Text)
	require.Equal(t, "<p>Votre r&eacute;servation</p>", m.HTML)
	require.Equal(t, []mailtest.Part{{Filename: "annulation.ics", MediaType: "text/calendar",
		Params: map[string]string{"method": "CANCEL", "charset": "UTF-8"}, Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}}, m.Attachments)

	_, err = mailtest.Parse([]byte("Content-Type: multipart/mixed\r\n\r\nbody"))
	require.Error(t, err)
}
