// Like the host, these tests run the Linux-only private PostgreSQL cluster and librdkafka.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
