using Streaming.Kafka;
using Streaming.Models.Drift;

namespace Streaming.Host.Modeling;

/// <summary>
/// Drift monitoring (section <c>Drift</c>): the processor role's drift monitor reads the features topic and compares the
/// newest windows with the active bundle's training reference (see <see cref="DriftOptions"/> for each setting).
/// </summary>
public sealed class DriftSettings
{
    public bool Enabled { get; set; } = true;

    public string GroupId { get; set; } = "streaming-drift";

    public int Windows { get; set; } = 500;

    public int MinWindows { get; set; } = 500;

    public int EvaluateEvery { get; set; } = 50;

    public DriftStatistic Statistic { get; set; } = DriftStatistic.Psi;

    public double Threshold { get; set; } = 0.25;

    public int ResolveAfterEvaluations { get; set; } = 3;

    public TimeSpan Cooldown { get; set; } = TimeSpan.FromHours(1);

    public TimeSpan SampleEvery { get; set; } = TimeSpan.Zero;

    public DriftOptions ToOptions() => new()
    {
        Windows = Windows,
        MinWindows = MinWindows,
        EvaluateEvery = EvaluateEvery,
        Statistic = Statistic,
        Threshold = Threshold,
        ResolveAfterEvaluations = ResolveAfterEvaluations,
        Cooldown = Cooldown,
        SampleEvery = SampleEvery,
    };

    public void Validate()
    {
        try
        {
            ToOptions().Validated();
        }
        catch (ArgumentException ex)
        {
            throw new OptionsException("", ex.Message.TrimEnd('.'));
        }
        if (Enabled && string.IsNullOrWhiteSpace(GroupId))
            throw new OptionsException("Drift:GroupId", "must name the drift monitor's consumer group, e.g. streaming-drift");
    }
}

/// <summary><c>Models:Retrain</c>: the optional policy that trains a new version from the database's recent history when drift opens.</summary>
public sealed class RetrainSettings
{
    /// <summary>Train a new candidate from the database's history when drift opens.</summary>
    public bool OnDrift { get; set; }

    /// <summary>At most one retraining per this interval (wall clock).</summary>
    public TimeSpan MinInterval { get; set; } = TimeSpan.FromHours(6);

    /// <summary>How much recent history (before now) to train on.</summary>
    public TimeSpan History { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Activate the retrained version at once instead of registering it as a candidate (for shadow scoring first).</summary>
    public bool Activate { get; set; }

    public void Validate()
    {
        if (MinInterval < TimeSpan.FromMinutes(1))
            throw new OptionsException("Models:Retrain:MinInterval", $"must be at least 00:01:00 so drift cannot retrain in a loop, was {MinInterval}");
        if (History <= TimeSpan.Zero)
            throw new OptionsException("Models:Retrain:History", $"must be positive, e.g. 1.00:00:00, was {History}");
    }
}
