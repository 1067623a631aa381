using System.Runtime.Versioning;

// The suite drives a real local PostgreSQL through Debian's binaries.
[assembly: SupportedOSPlatform("linux")]

// Fixtures use separate databases, so they can run side by side; tests inside a fixture share one database.
[assembly: Parallelizable(ParallelScope.Fixtures)]
[assembly: LevelOfParallelism(3)]
