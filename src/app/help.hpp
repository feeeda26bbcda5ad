// The help texts of plugmq's commands (`plugmq --help`, `plugmq COMMAND --help`).
#pragma once

namespace plugmq::app {

inline constexpr const char* kMainHelp =
    R"(plugmq - a self-hosted CloudPlugs device platform: an MQTT 3.1.1 broker that
knows accounts and devices, applies their permissions and routes their data channels.

Usage: plugmq COMMAND [options]

Commands:
  serve [--config FILE] [--check-config]    run the broker in the foreground
  account add EMAIL [--password -] [--retention-days N]
  account set EMAIL [--password -] [--retention-days N] [--disabled true|false]
  account list
  account delete EMAIL --yes
  template add --account EMAIL [--name N] [--ctrl rw|r|""] [--perm JSON]
  template list [--account EMAIL]
  template delete MODEL
  serial add MODEL --hwid H [--enroll-pass -] [--control-pass -]
  serial add MODEL --csv FILE
  serial list MODEL
  serial delete MODEL HWID
  prototype add --account EMAIL --name N [--hwid H]
  device list [--account EMAIL]
  device show ID
  device set ID [--perm JSON] [--status ok|disabled|reactivate] [--name N] [--new-auth]
             [--revoke-auth]
  device delete ID
  data get CHANNEL_MASK [--of ID,...] [--before T] [--after T] [--limit N]
  data delete CHANNEL_MASK [--id ID,...] [--of ID,...] [--before T] [--after T]
  session list [--account EMAIL]
  session delete ID CLIENT_ID

Options for every command:
  --config FILE    configuration file (JSON with comments; reference: config/plugmq.json).
                   Every command takes its data_dir; account add its retention.default_days
  --data-dir DIR   where plugmq.db lives (default: the configuration's data_dir, else
                   /var/lib/plugmq as root, ./plugmq-data otherwise)
  --json           machine-readable output: one JSON value on stdout
  --help           help for that command

Secrets (--password, --enroll-pass, --control-pass): "-" reads the secret from standard input,
one line (recommended: it stays out of ps and the shell's history); on a terminal it is asked
for without echo, as it is when a required one is left out. --password VALUE works too.

  plugmq --version prints the version. Admin commands work while the server runs.
)";

inline constexpr const char* kServeHelp = R"(Usage: plugmq serve [options]

Runs the broker in the foreground until SIGTERM or SIGINT. SIGHUP loads the TLS certificate
and key again (new connections use them; on failure the old ones stay).

Settings come from the flags, then the --config file, then the built-in defaults (the reference
with every key and its default: config/plugmq.json).

  --config FILE           configuration file (JSON with comments)
  --check-config          validate the configuration (file and flags, TLS certificate and key
                          included), print "configuration OK" (with --json: the effective
                          configuration) and exit: 0 when valid, 2 with the error otherwise
  --data-dir DIR          database directory (created when missing)
  --mqtt ADDR:PORT        plain MQTT listener (default 0.0.0.0:1883; port 0 picks a free port)
  --mqtts ADDR:PORT       MQTT over TLS listener (default 0.0.0.0:8883), on when a certificate
                          and a key are configured
  --http ADDR:PORT        HTTP REST API listener (default 0.0.0.0:8080), or off
  --https ADDR:PORT       HTTPS REST API listener (default 0.0.0.0:8443), or off; on when a
                          certificate and a key are configured (the MQTT ones)
  --tls-cert FILE         PEM certificate chain for the TLS listeners (the server's first)
  --tls-key FILE          PEM private key of that certificate (unencrypted)
  --ready-file FILE       once listening, write {"mqtt":PORT,"mqtts":PORT|null,
                          "http":PORT|null,"https":PORT|null,"pid":PID}
  --log-level LEVEL       trace, debug, info (default), warn, error, critical, off
  --io-threads N          network threads (default: one per core)
  --max-connections N     connections beyond this are refused (default 100000)
  --max-packet-size BYTES largest accepted packet (default 1048576)
  --max-subscriptions N   topic filters one session may hold; a SUBSCRIBE past it gets
                          0x80 for each further filter (default 1000)
  --max-inflight N        unacknowledged QoS 1/2 messages sent to one session at a time;
                          the rest wait in order (default 32)
  --session-expiry-days N a persistent session not resumed for N days is deleted; 0: never
                          (default 30)
  --max-replay N          a resumed persistent session replays at most N missed messages;
                          older ones are skipped and counted; 0: no bound (default 1000000)
  --enroll-timeout S      an enrollment session is closed after S seconds (default 30)
  --enroll-attempts N     failed enrollments allowed per client address and per serial per
                          minute; past that, attempts get error 429 (default 10)
  --login-failures N      failed logins allowed per client address per minute; past that,
                          logins are refused unchecked: CONNACK 5, HTTP 429 (default 30)
  --login-failures-per-identity N
                          the same per account (and prototype with a password) (default 10)

A configuration that is not valid makes serve exit with status 2 before it listens.
)";

inline constexpr const char* kAccountHelp = R"(Usage:
  plugmq account add EMAIL [--password -] [--retention-days N]
  plugmq account set EMAIL [--password -] [--retention-days N] [--disabled true|false]
  plugmq account list
  plugmq account delete EMAIL --yes

Passwords are 4..128 bytes and stored only as a salted PBKDF2 hash. --password - reads it from
standard input (one line); on a terminal, and when account add is run on one without
--password, it is asked for twice without echo. --password VALUE also works, but shows in ps.
Retention is in days (default: retention.default_days of the --config file, else 30; 0 keeps
data forever). A disabled account refuses its logins and its devices'.

list prints "ID  EMAIL  retention=Nd  disabled=yes|no  devices=N  templates=N" per account,
or with --json [{"id","email","retention_days","disabled","created_at","devices","templates"}].

delete removes the account and everything of it, for good: its devices and their data
records, properties, controls, retained messages and sessions, its templates and their serials,
its own sessions. Without --yes it only says what would go. A running server closes the
account's connections within a second.
)";

inline constexpr const char* kPrototypeHelp = R"(Usage:
  plugmq prototype add --account EMAIL --name N [--hwid H]

Creates a prototype device (permissions: read and write every device of its account) and
prints its Plug-ID and auth code. The auth code is shown once: it is stored only as a hash.
)";

inline constexpr const char* kTemplateHelp = R"(Usage:
  plugmq template add --account EMAIL [--name N] [--ctrl rw|r|""] [--perm JSON]
  plugmq template list [--account EMAIL]
  plugmq template delete MODEL

A production template ("mod-...") groups the serial numbers of one product. Things that enroll
with it get its permission filter: by default {"of":{"r":[],"w":[]},"ctrl":"rw"}.
  --perm JSON   the things' filter {"of":{"r":LIST|null,"w":LIST|null},"ctrl":...}; members left
                out keep the default
  --ctrl C      what the things' controllers may do: rw (read and write), r (read), or "" (no
                controllers: --ctrl "" or --ctrl=); wins over ctrl in --perm

delete removes the template and its serial numbers. The things enrolled from it stay, with
their Plug-IDs, auth codes, permissions and controllers, and keep working; without their
serials none can enroll again (reactivate) and no new controller can enroll for them. Delete
them with plugmq device delete.
)";

inline constexpr const char* kSerialHelp = R"(Usage:
  plugmq serial add MODEL --hwid H [--enroll-pass -] [--control-pass -]
  plugmq serial add MODEL --csv FILE
  plugmq serial list MODEL
  plugmq serial delete MODEL HWID       (or MODEL --hwid HWID)

Registers serial numbers (HWIDs) in production template MODEL. A thing enrolls over MQTT with
client id HWID[/NAME] by subscribing to MODEL/thing/P; a controller with its own HWID, to
MODEL/ctrl/HWID/C. Without a control password, control of that thing is disabled. Passwords
are 4..128 bytes and stored only as salted hashes. "-" reads a password from standard input,
one line (both "-": the enroll password's line first); on a terminal, and for an --enroll-pass
left out on one, it is asked for twice without echo. A VALUE also works, but shows in ps.

--csv FILE (- for stdin) registers many at once, all or none: one serial a line,
  hwid,enroll_pass[,control_pass]
Blank lines and lines starting with # are skipped, as is a first line starting with "hwid,"
(a header). An empty control_pass means none. A field may be double-quoted ("a,b", "say ""hi""")
to hold commas or quotes.

delete removes one serial: its HWID can no longer enroll in MODEL. A thing that enrolled with
it stays and keeps working (delete it with plugmq device delete).
)";

inline constexpr const char* kDeviceHelp = R"(Usage:
  plugmq device list [--account EMAIL]
  plugmq device show ID
  plugmq device set ID [--perm JSON] [--status ok|disabled|reactivate] [--name N] [--new-auth]
                    [--revoke-auth]
  plugmq device delete ID

list and show print each device's kind, name, hwid, model, status, permissions, properties,
whether it is online and when it was last seen (its last login or disconnect), as the server
records them (a server killed with devices connected leaves them online until it starts again).

--perm takes the permission filter {"of":{"r":LIST|null,"w":LIST|null},"ctrl":"rw"|"r"|""}
(members left out keep their value). Changes apply to new logins at once and to connected
devices within a second.
--new-auth gives the device a new auth code, printed once (with --json: "auth"): the old one
(and a controller's earlier ones) is refused from the next login on; connections already open
stay until they end.
--revoke-auth ends every auth code of the device and closes the connections that logged in
with one (a running server: within a second). A controller enrolled again (every phone of a
thing's iOS app enrolls as one controller) keeps its 8 most recent codes valid: this logs
them all out. The device logs in again once it has a new code: with --new-auth too (printed
once), or, for a thing or a controller, by enrolling again (a thing: after --status
reactivate). The HTTP API's equivalent for the account is DELETE /iot/auth/ID.

delete removes the device for good, as DELETE /iot/device does: its data records, properties,
controls, retained messages and sessions. A thing's serial can enroll again. A running server
closes the device's connections within a second.
)";

inline constexpr const char* kSessionHelp = R"(Usage:
  plugmq session list [--account EMAIL]
  plugmq session delete ID CLIENT_ID

Persistent MQTT sessions (clean session 0), each of a login (a device's Plug-ID or an
account's id) and a client id. list prints one line per session "ID  CLIENT_ID  online|offline
LAST_SEEN  SUBSCRIPTIONS  WAITING", or with --json the array [{"id","client_id","account",
"online","subscriptions":[{"filter","qos"}],"waiting","position","created_at","last_seen"}];
"waiting" counts the messages it would get on its resume: its unacknowledged ones and the QoS
1/2 records after its position that its subscriptions select (up to 1000000). delete removes a
session: its client's next CONNECT with clean session 0 starts a new one (one connected now
keeps its state until it disconnects, and saves it again then).
)";

inline constexpr const char* kDataHelp = R"(Usage:
  plugmq data get CHANNEL_MASK [--of ID,...] [--before T] [--after T] [--limit N]
  plugmq data delete CHANNEL_MASK [--id ID,...] [--of ID,...] [--before T] [--after T]

Prints stored data records matching the channel mask, newest first (by time, then by record
id): one line per record "TIME  PUBLISHER  CHANNEL  DATA", or with --json the array
[{"id","of","channel","data","at"}]. Operator command: no permissions apply.
  CHANNEL_MASK  a channel, or a mask with MQTT wildcards: '+' one level, a last '#' any
                number of levels ("a/#" also matches "a"; "#" matches every channel)
  --of ID,...   only records published by these devices
  --before T    only records older than T; --after T: newer than T. T is a time in ms since
                the epoch or ISO-8601 ("2024-05-01T12:00:00Z"), or a record id (24 hex digits:
                older/newer than that record)
  --limit N     at most N records, 1..10000 (default 100)

delete deletes every record that get would list with those filters (and no limit), as
DELETE /iot/data does, and prints how many went ({"deleted":N} with --json). It needs at least
one of --id, --of, --before or --after (every record under a mask: --before with a time to
come). --id ID,... deletes those records, when they are under the mask (and of --of).
)";

}  // namespace plugmq::app
