using System.Security.Cryptography;
using System.Text;
using Streaming.Contracts;

namespace Streaming.Processing.Alerts;

public sealed record AlertOptions
{
    /// <summary>Consecutive normal windows after which an open alert resolves.</summary>
    public int ResolveAfterWindows { get; init; } = 3;

    /// <summary>Windows after a resolve during which a new anomaly reopens the same alert instead of opening another.</summary>
    public int CooldownWindows { get; init; } = 100;

    /// <summary>An open alert is updated only when severity rises or the score exceeds its peak by this factor.</summary>
    public double UpdateScoreFactor { get; init; } = 1.25;

    /// <summary>Contributing metrics carried on each event.</summary>
    public int TopContributors { get; init; } = 3;

    public AlertOptions Validated()
    {
        if (ResolveAfterWindows < 1)
            throw new ArgumentException($"Alerts:ResolveAfterWindows must be at least 1, was {ResolveAfterWindows}.");
        if (CooldownWindows < 0)
            throw new ArgumentException($"Alerts:CooldownWindows must be zero or positive, was {CooldownWindows}.");
        if (!(UpdateScoreFactor >= 1))
            throw new ArgumentException($"Alerts:UpdateScoreFactor must be at least 1, was {UpdateScoreFactor}.");
        if (TopContributors is < 1 or > 64)
            throw new ArgumentException($"Alerts:TopContributors must be 1-64, was {TopContributors}.");
        return this;
    }
}

/// <summary>One window's verdict for an entity, as the tracker sees it.</summary>
public readonly record struct WindowVerdict(
    string Entity, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, double Score, double Threshold,
    string Model, string ModelVersion, IReadOnlyList<Contributor> Contributors)
{
    public bool IsAnomaly => Score >= Threshold;
}

/// <summary>
/// Turns per-window verdicts into an alert lifecycle (open → update → resolved) per entity, so one incident is one alert,
/// not a storm. Event and alert ids are derived from their content, so a replay after a crash emits identical events.
/// </summary>
public sealed partial class AlertTracker(AlertOptions options, TimeProvider clock)
{
    private readonly AlertOptions _options = options.Validated();
    private readonly Dictionary<string, EntityAlert> _entities = new(StringComparer.Ordinal);

    public int OpenAlerts => _entities.Values.Count(e => e.IsOpen);

    /// <summary>Returns the event to publish for this window, or null when nothing changed for downstream consumers.</summary>
    public AnomalyEvent? Observe(in WindowVerdict verdict)
    {
        if (!_entities.TryGetValue(verdict.Entity, out var state))
        {
            if (!verdict.IsAnomaly)
                return null;
            state = new EntityAlert();
            _entities[verdict.Entity] = state;
        }

        var severity = verdict.Score >= 2 * verdict.Threshold ? Severity.Critical : Severity.Warning;
        if (verdict.IsAnomaly)
        {
            state.NormalStreak = 0;
            if (state.IsOpen)
            {
                var escalated = severity == Severity.Critical && state.Severity != Severity.Critical;
                if (!escalated && verdict.Score < state.PeakScore * _options.UpdateScoreFactor)
                    return null;
                state.PeakScore = Math.Max(state.PeakScore, verdict.Score);
                state.Severity = escalated ? severity : state.Severity;
                return Emit(verdict, state, AlertStatus.Update, state.Severity);
            }
            var reopen = state.AlertId != Guid.Empty && state.WindowsSinceResolve <= _options.CooldownWindows;
            if (!reopen)
                state.AlertId = DeterministicGuid($"alert|{verdict.Entity}|{verdict.WindowStart.ToUnixTimeMilliseconds()}");
            state.IsOpen = true;
            state.PeakScore = verdict.Score;
            state.Severity = severity;
            return Emit(verdict, state, reopen ? AlertStatus.Update : AlertStatus.Open, severity);
        }

        if (!state.IsOpen)
        {
            state.WindowsSinceResolve++;
            if (state.WindowsSinceResolve > _options.CooldownWindows)
                _entities.Remove(verdict.Entity);
            return null;
        }
        if (++state.NormalStreak < _options.ResolveAfterWindows)
            return null;
        state.IsOpen = false;
        state.WindowsSinceResolve = 0;
        return Emit(verdict, state, AlertStatus.Resolved, state.Severity);
    }

    private AnomalyEvent Emit(in WindowVerdict verdict, EntityAlert state, string status, string severity) => new(
        DeterministicGuid($"event|{state.AlertId}|{status}|{verdict.WindowEnd.ToUnixTimeMilliseconds()}"),
        state.AlertId,
        AnomalyEvent.KindName,
        status,
        verdict.Entity,
        verdict.WindowStart,
        verdict.WindowEnd,
        clock.GetUtcNow(),
        verdict.Score,
        verdict.Threshold,
        severity,
        verdict.Model,
        verdict.ModelVersion,
        verdict.Contributors);

    /// <summary>A name-based (version 5 style) GUID: the same text always gives the same id.</summary>
    internal static Guid DeterministicGuid(string name)
    {
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(Encoding.UTF8.GetBytes(name), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }

    private sealed class EntityAlert
    {
        public Guid AlertId;
        public bool IsOpen;
        public double PeakScore;
        public string Severity = Contracts.Severity.Warning;
        public int NormalStreak;
        public int WindowsSinceResolve;
    }
}
