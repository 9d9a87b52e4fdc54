package activities

import (
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// reportMessage is the email of one report delivery: the composed subject and bodies, the
// run's attachable artifacts (CSV and PDF; the HTML version is the body itself) and a
// Message-ID that is the same on every attempt, so a relay or mailbox that sees a retried
// send can drop the duplicate.
//
// notify.Message carries To, Subject, Text and HTML only, so the attachments and the
// Message-ID are handed in here and set on the message where notify.Message grows the
// fields for them: m.Attachments from attachments (Filename, ContentType, Content) and
// m.MessageID = messageID.
func reportMessage(to, subject, text, html string, attachments []store.ReportArtifactFile, messageID string) notify.Message {
	m := notify.Message{To: []string{to}, Subject: subject, Text: text, HTML: html}
	return m
}
