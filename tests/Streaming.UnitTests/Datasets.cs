namespace Streaming.UnitTests;

/// <summary>The shared development datasets: ../shared/datasets next to the repository root (the directory holding Streaming.sln).</summary>
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
            var root = Path.GetFullPath(Path.Combine(directory!.Parent!.FullName, "shared", "datasets"));
            // A missing dataset is a broken environment, not a reason to pass: fail loudly.
            if (!Directory.Exists(Path.Combine(root, "nab-dev", "data")))
                Assert.Fail($"The shared datasets are missing: expected NAB data under {Path.Combine(root, "nab-dev", "data")} (../shared/datasets beside the repository).");
            return root;
        }
    }

    public static string NabData => Path.Combine(Root, "nab-dev", "data");

    public static string NabWindows => Path.Combine(Root, "nab-dev", "labels", "combined_windows.json");

    public static string NabProfiles => Path.Combine(Root, "nab-dev", "config", "profiles.json");
}
