namespace Streaming.UnitTests;

/// <summary>
/// The shared development datasets: <c>STREAMING_DATASETS</c> when set, else <c>../shared/datasets</c> next to the repository
/// root (the directory holding Streaming.sln), else the machine's <c>/work/shared/datasets</c> (for clones placed elsewhere).
/// </summary>
internal static class Datasets
{
    public static string Root
    {
        get
        {
            var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Streaming.sln")))
                directory = directory.Parent;
            if (directory?.Parent is null)
                Assert.Fail($"No Streaming.sln above {TestContext.CurrentContext.TestDirectory}: cannot locate the repository root.");
            string?[] candidates =
            [
                Environment.GetEnvironmentVariable("STREAMING_DATASETS"),
                Path.GetFullPath(Path.Combine(directory!.Parent!.FullName, "shared", "datasets")),
                "/work/shared/datasets",
            ];
            var root = candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && Directory.Exists(Path.Combine(c, "nab-dev", "data")));
            // A missing dataset is a broken environment, not a reason to pass: fail loudly.
            if (root is null)
                Assert.Fail($"The shared datasets are missing: looked for nab-dev/data under {string.Join(", ", candidates.Where(c => !string.IsNullOrEmpty(c)))}; set STREAMING_DATASETS.");
            return root!;
        }
    }

    public static string NabData => Path.Combine(Root, "nab-dev", "data");

    public static string NabWindows => Path.Combine(Root, "nab-dev", "labels", "combined_windows.json");

    public static string NabProfiles => Path.Combine(Root, "nab-dev", "config", "profiles.json");

    /// <summary>NASA MSL in the telemanom layout: train/, test/ and labeled_anomalies.csv.</summary>
    public static string Msl
    {
        get
        {
            var msl = Path.Combine(Root, "msl");
            if (!File.Exists(Path.Combine(msl, "labeled_anomalies.csv")))
                Assert.Fail($"The MSL dataset is missing: no labeled_anomalies.csv in {msl}.");
            return msl;
        }
    }
}
