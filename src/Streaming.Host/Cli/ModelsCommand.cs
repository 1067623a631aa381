using System.CommandLine;
using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Host.Pipeline;
using Streaming.Kafka;

namespace Streaming.Host.Cli;

internal static class ModelsCommand
{
    public static Command Create()
    {
        var list = new Command("list", "Lists registered model versions with their status.\n\n  streaming models list");
        list.SetAction((parse, ct) => WithRegistryAsync(async registry =>
        {
            var models = await registry.ListAsync(ct).ConfigureAwait(false);
            if (models.Count == 0)
            {
                Console.WriteLine("No model versions yet: `streaming train` makes one.");
                return 0;
            }
            Console.WriteLine(ModelRow("VERSION", "STATUS", "SCOPE", "CREATED (UTC)", "ACTIVATED (UTC)", "ARTIFACTS"));
            foreach (var m in models)
                Console.WriteLine(ModelRow(m.Version, m.Status, m.Entity ?? "fleet", $"{m.CreatedAt:yyyy-MM-dd HH:mm:ss}",
                    m.ActivatedAt is { } a ? $"{a:yyyy-MM-dd HH:mm:ss}" : "", m.ArtifactPath));
            return 0;
        }, ct));

        var version = new Argument<string>("version") { Description = "A version from `streaming models list`" };
        var activate = new Command("activate", """
            Makes a version the active one. Running processors switch to it at their next window, without a restart.

              streaming models activate 20261122-101500
            """) { version };
        activate.SetAction((parse, ct) => WithRegistryAsync(async registry =>
        {
            await registry.ActivateAsync(parse.GetValue(version)!, ct).ConfigureAwait(false);
            Console.WriteLine($"Activated {parse.GetValue(version)}.");
            return 0;
        }, ct));

        return new Command("models", """
            Lists and activates model versions (the model_registry table and the models directory).

              streaming models list
              streaming models activate 20261122-101500
            """) { list, activate };
    }

    /// <summary>One row of `models list`, the header included, in fixed columns.</summary>
    internal static string ModelRow(string version, string status, string scope, string created, string activated, string artifacts) =>
        $"{version,-18} {status,-10} {scope,-12} {created,-19}  {activated,-19}  {artifacts}";

    private static async Task<int> WithRegistryAsync(Func<ModelRegistry, Task<int>> action, CancellationToken cancellationToken)
    {
        StreamingSettings settings;
        try
        {
            settings = StreamingSettings.Load();
        }
        catch (OptionsException ex)
        {
            return CliSupport.ReportConfigurationError(ex);
        }
        using var loggers = CliSupport.CreateLoggerFactory(verbose: false);
        var (dataSource, _) = await TrainCommand.OpenDatabaseAsync(settings, loggers, cancellationToken).ConfigureAwait(false);
        await using (dataSource.ConfigureAwait(false))
        {
            try
            {
                return await action(new ModelRegistry(dataSource, RepositoryPaths.Resolve(settings.Models.Directory))).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                Console.Error.WriteLine(ex.Message);
                return 2;
            }
        }
    }
}
