package activities

import (
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// reportMessage is the email of one report delivery: the composed subject and bodies, the
// run's attachable artifacts (CSV and PDF; the HTML version is the body itself) and a
// Message-ID that is the same on every attempt, so a relay or mailbox that sees a retried
// send can drop the duplicate.
func reportMessage(to, subject, text, html string, attachments []store.ReportArtifactFile, messageID string) notify.Message {
	m := notify.Message{To: []string{to}, Subject: subject, Text: text, HTML: html, MessageID: messageID}
	for _, a := range attachments {
		m.Attachments = append(m.Attachments, notify.Attachment{Filename: a.Filename, ContentType: a.ContentType, Content: a.Content})
	}
	return m
}
