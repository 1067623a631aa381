using Streaming.Contracts;

namespace Streaming.Simulation;

public sealed record SimulatorOptions
{
    public int Entities { get; init; } = 20;
    public int Seed { get; init; } = 42;
    public DateTimeOffset Start { get; init; } = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Expected incidents per entity per simulated day; 0 turns failure injection off.</summary>
    public double IncidentsPerEntityDay { get; init; } = 3;

    /// <summary>No incident starts before this much simulated time, so detectors can learn normal behaviour first.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Restricts injection to these kinds; null means all.</summary>
    public IReadOnlyList<FailureKind>? Kinds { get; init; }

    public SimulatorOptions Validated()
    {
        if (Entities is < 1 or > 100_000)
            throw new ArgumentException($"Simulator:Entities must be in [1, 100000], was {Entities}.");
        if (SampleInterval < TimeSpan.FromMilliseconds(1))
            throw new ArgumentException($"Simulator:SampleInterval must be at least 1 ms, was {SampleInterval}.");
        if (IncidentsPerEntityDay < 0 || double.IsNaN(IncidentsPerEntityDay))
            throw new ArgumentException($"Simulator:IncidentsPerEntityDay must be zero or positive, was {IncidentsPerEntityDay}.");
        return this;
    }
}

public enum FailureKind
{
    Spike,
    LevelShift,
    MemoryLeak,
    LatencyDegradation,
    ErrorBurst,
    GradualDegradation,
    StuckSensor,
}

/// <summary>A labelled incident: the anomalous interval, its main metric, and when the entity went down (if it did).</summary>
public sealed record FailureLabel(string Entity, FailureKind Kind, string Metric, DateTimeOffset Start, DateTimeOffset End, DateTimeOffset? DowntimeStart, DateTimeOffset? DowntimeEnd);

/// <summary>
/// A fleet of machines with daily and weekly seasonality, noise and correlated metrics (cpu → latency → error rate), and
/// injected, labelled failures. Deterministic by seed: the same options give the same samples and labels.
/// </summary>
public sealed class FleetSimulator
{
    public static readonly string[] MetricNames = ["cpu_usage", "memory_usage", "network_latency", "error_rate", "disk_usage", "network_in"];

    private readonly SimulatorOptions _options;
    private readonly EntityModel[] _entities;
    private readonly List<FailureLabel> _labels = [];
    private readonly long _intervalMs;
    private long _nowMs;

    public FleetSimulator(SimulatorOptions options)
    {
        _options = options.Validated();
        _intervalMs = (long)options.SampleInterval.TotalMilliseconds;
        _nowMs = options.Start.ToUnixTimeMilliseconds();
        _entities = new EntityModel[options.Entities];
        for (var i = 0; i < _entities.Length; i++)
            _entities[i] = new EntityModel(this, $"host-{i + 1:D3}", new Random(unchecked(options.Seed * 7919 + i)));
    }

    public DateTimeOffset Now => DateTimeOffset.FromUnixTimeMilliseconds(_nowMs);

    public int EntityCount => _entities.Length;

    /// <summary>Incidents that have ended so far, in order of their end (a running incident is labelled when it ends).</summary>
    public IReadOnlyList<FailureLabel> Labels => _labels;

    /// <summary>
    /// Incidents in progress, labelled with their planned end (and downtime, for kinds that end in one), so an evaluation
    /// that stops mid-incident does not count the incident's anomalous windows as false alarms.
    /// </summary>
    public IReadOnlyList<FailureLabel> RunningIncidents() => [.. _entities.Select(e => e.RunningLabel()).OfType<FailureLabel>()];

    /// <summary>Appends one sample per entity that is up at the current simulated time, then advances the clock.</summary>
    public int NextTick(List<TelemetrySample> output)
    {
        var before = output.Count;
        foreach (var entity in _entities)
        {
            if (entity.Sample(_nowMs) is { } sample)
                output.Add(sample);
        }
        _nowMs += _intervalMs;
        return output.Count - before;
    }

    private sealed class EntityModel
    {
        private const double Day = 86_400_000;
        private const double Week = 7 * Day;

        private readonly FleetSimulator _fleet;
        private readonly string _name;
        private readonly Random _random;
        private readonly double _baseCpu;
        private readonly double _baseMemory;
        private readonly double _baseDisk;
        private readonly double _phase;
        private long _nextIncidentMs;
        private Incident? _incident;
        private long _downUntilMs = long.MinValue;
        private double _memoryOffset;
        private readonly double[] _last = new double[MetricNames.Length];

        public EntityModel(FleetSimulator fleet, string name, Random random)
        {
            _fleet = fleet;
            _name = name;
            _random = random;
            _baseCpu = 25 + 20 * random.NextDouble();
            _baseMemory = 40 + 15 * random.NextDouble();
            _baseDisk = 30 + 30 * random.NextDouble();
            _phase = random.NextDouble() * 0.1;
            _nextIncidentMs = fleet._options.Start.ToUnixTimeMilliseconds() + (long)fleet._options.WarmUp.TotalMilliseconds + DrawGapMs();
        }

        public TelemetrySample? Sample(long nowMs)
        {
            if (nowMs < _downUntilMs)
                return null;
            if (_incident is null && nowMs >= _nextIncidentMs && _fleet._options.IncidentsPerEntityDay > 0)
                StartIncident(nowMs);

            var daily = Math.Sin(2 * Math.PI * (nowMs / Day + _phase));
            var weekly = Math.Sin(2 * Math.PI * (nowMs / Week));
            var cpu = _baseCpu + 12 * daily + 4 * weekly + Gaussian(2.5);
            var memory = _baseMemory + 4 * daily + _memoryOffset + Gaussian(0.8);
            var network = 50 + 25 * daily + Gaussian(4);
            var disk = _baseDisk + (nowMs - _fleet._options.Start.ToUnixTimeMilliseconds()) / Day * 0.5 + Gaussian(0.1);
            var errorBase = 0.01;

            if (_incident is { } incident)
            {
                var progress = Math.Clamp((nowMs - incident.StartMs) / (double)(incident.EndMs - incident.StartMs), 0, 1);
                switch (incident.Kind)
                {
                    case FailureKind.Spike:
                        if (incident.Metric == "cpu_usage") cpu += 55; else network += 200;
                        break;
                    case FailureKind.LevelShift:
                        cpu += 30;
                        break;
                    case FailureKind.MemoryLeak:
                        memory += (99 - memory) * progress;
                        break;
                    case FailureKind.ErrorBurst:
                        errorBase += 0.25;
                        break;
                    case FailureKind.GradualDegradation:
                        cpu += 60 * progress;
                        break;
                }
            }

            cpu = Math.Clamp(cpu, 0, 100);
            var latency = 40 + 0.8 * cpu + Gaussian(4);
            if (_incident is { Kind: FailureKind.LatencyDegradation } degradation)
                latency *= 1 + 4 * Math.Clamp((nowMs - degradation.StartMs) / (double)(degradation.EndMs - degradation.StartMs), 0, 1);
            if (_incident is { Kind: FailureKind.GradualDegradation } gradual)
                latency *= 1 + 3 * Math.Clamp((nowMs - gradual.StartMs) / (double)(gradual.EndMs - gradual.StartMs), 0, 1);
            var errorRate = Math.Max(0, errorBase + 0.0004 * Math.Max(0, latency - 100) + Math.Abs(Gaussian(0.003)));
            memory = Math.Clamp(memory, 0, 100);

            Span<double> values = [cpu, memory, latency, errorRate, Math.Clamp(disk, 0, 100), Math.Max(0, network)];
            if (_incident is { Kind: FailureKind.StuckSensor } stuck)
            {
                var index = Array.IndexOf(MetricNames, stuck.Metric);
                values[index] = _last[index];
            }
            values.CopyTo(_last);

            var metrics = new MetricValue[MetricNames.Length];
            for (var i = 0; i < metrics.Length; i++)
                metrics[i] = new MetricValue(MetricNames[i], Math.Round(values[i], 4));
            var sample = new TelemetrySample(_name, nowMs, metrics);

            // The incident covers [Start, End): its last sample precedes End, where a downtime begins.
            if (_incident is { } current && nowMs + _fleet._intervalMs >= current.EndMs)
                EndIncident(current);
            return sample;
        }

        public FailureLabel? RunningLabel() => _incident is { } incident ? Label(incident) : null;

        private void StartIncident(long nowMs)
        {
            var kinds = _fleet._options.Kinds ?? Enum.GetValues<FailureKind>();
            var kind = kinds[_random.Next(kinds.Count)];
            var (minutes, metric) = kind switch
            {
                FailureKind.Spike => (_random.Next(1, 3) * 0.5, _random.Next(2) == 0 ? "cpu_usage" : "network_in"),
                FailureKind.LevelShift => (_random.Next(30, 90), "cpu_usage"),
                FailureKind.MemoryLeak => (_random.Next(45, 120), "memory_usage"),
                FailureKind.LatencyDegradation => (_random.Next(20, 60), "network_latency"),
                FailureKind.ErrorBurst => (_random.Next(5, 15), "error_rate"),
                FailureKind.GradualDegradation => (_random.Next(60, 150), "cpu_usage"),
                _ => (_random.Next(30, 90), MetricNames[_random.Next(MetricNames.Length)]),
            };
            var endMs = nowMs + (long)(minutes * 60_000);
            _incident = new Incident(kind, metric, nowMs, endMs);
        }

        private void EndIncident(Incident incident)
        {
            var label = Label(incident);
            if (label.DowntimeEnd is { } downEnd)
            {
                _downUntilMs = downEnd.ToUnixTimeMilliseconds();
                _memoryOffset = 0;
            }
            _fleet._labels.Add(label);
            _incident = null;
            _nextIncidentMs = Math.Max(incident.EndMs, _downUntilMs) + DrawGapMs();
        }

        private FailureLabel Label(Incident incident)
        {
            var endsInDowntime = incident.Kind is FailureKind.MemoryLeak or FailureKind.GradualDegradation;
            return new FailureLabel(_name, incident.Kind, incident.Metric,
                DateTimeOffset.FromUnixTimeMilliseconds(incident.StartMs), DateTimeOffset.FromUnixTimeMilliseconds(incident.EndMs),
                endsInDowntime ? DateTimeOffset.FromUnixTimeMilliseconds(incident.EndMs) : null,
                endsInDowntime ? DateTimeOffset.FromUnixTimeMilliseconds(incident.EndMs + 15 * 60_000) : null);
        }

        private long DrawGapMs()
        {
            var rate = _fleet._options.IncidentsPerEntityDay;
            if (rate <= 0)
                return long.MaxValue / 4;
            return (long)(-Math.Log(1 - _random.NextDouble()) / rate * Day);
        }

        private double Gaussian(double sigma)
        {
            var u1 = 1 - _random.NextDouble();
            var u2 = _random.NextDouble();
            return sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }

        private sealed record Incident(FailureKind Kind, string Metric, long StartMs, long EndMs);
    }
}
