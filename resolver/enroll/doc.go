// Package enroll lets the verified users of a remote MCP server add their own credentials in the browser.
package enroll
