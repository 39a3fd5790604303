"""The Textual app, its widgets and the browser view: it renders what a run reports and sends
it the user's keys. Only the command line imports it."""
