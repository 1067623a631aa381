// The private PostgreSQL cluster and librdkafka loading are Linux-only; so is this executable.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
