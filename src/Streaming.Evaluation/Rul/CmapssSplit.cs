using Streaming.Models.Data;

namespace Streaming.Evaluation.Rul;

/// <summary>A test engine: the cycles observed so far and the true remaining cycles after the last one.</summary>
internal sealed record CmapssTestEngine(CmapssEngine Observed, int Rul, CmapssEngine? FullRun);

/// <summary>Train/test engines for C-MAPSS, from NASA's test and RUL files or, without them, from a seeded hold-out.</summary>
internal static class CmapssSplit
{
    /// <summary>
    /// Holds out a seeded fraction of the training engines and truncates each at a seeded random cycle, keeping at least
    /// <paramref name="minObserved"/> cycles, so its true RUL (cycles after the cut) is known, as in NASA's test set.
    /// </summary>
    public static (IReadOnlyList<CmapssEngine> Train, IReadOnlyList<CmapssTestEngine> Test) HoldOut(
        IReadOnlyList<CmapssEngine> engines, double fraction, int minObserved, int seed)
    {
        if (!(fraction is > 0 and < 1))
            throw new ArgumentException($"The held-out fraction must be in (0, 1), was {fraction}.");
        var random = new Random(seed);
        var shuffled = engines.ToArray();
        random.Shuffle(shuffled);
        var testCount = Math.Max(1, (int)Math.Round(engines.Count * fraction));
        var test = new List<CmapssTestEngine>(testCount);
        foreach (var engine in shuffled.Take(testCount).OrderBy(e => e.Unit))
        {
            if (engine.Cycles <= minObserved)
                throw new InvalidDataException($"Engine {engine.Unit} has {engine.Cycles} cycles; at least {minObserved + 1} are needed to truncate it.");
            var observed = random.Next(minObserved, engine.Cycles);
            test.Add(new CmapssTestEngine(Truncate(engine, observed), engine.Cycles - observed, engine));
        }
        return ([.. shuffled.Skip(testCount).OrderBy(e => e.Unit)], test);
    }

    /// <summary>NASA's layout: the test file's engines in unit order, the RUL file one integer per line in the same order.</summary>
    public static IReadOnlyList<CmapssTestEngine> FromFiles(string testFile, string rulFile)
    {
        var engines = Cmapss.Read(testFile);
        var ruls = File.ReadLines(rulFile).Where(l => l.Trim().Length > 0)
            .Select(l => int.Parse(l.Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (ruls.Length != engines.Count)
            throw new InvalidDataException($"'{rulFile}' has {ruls.Length} RULs for the {engines.Count} engines of '{testFile}'.");
        return [.. engines.Select((e, i) => new CmapssTestEngine(e, ruls[i], null))];
    }

    public static CmapssEngine Truncate(CmapssEngine engine, int cycles) =>
        new(engine.Unit, engine.Values.AsSpan(0, cycles * CmapssEngine.Columns).ToArray(), cycles);
}
