"""The console: server-rendered pages a marketing team works in (queue, calendar, composer, accounts,
campaigns, YouTube), served by the api function under /console/ over the same services as the API.
See docs/console.md. `mount.mount_console` adds it to the API's app; nothing here loads at import."""
