using System.Diagnostics;

namespace Streaming.Storage;

internal static class ProcessRunner
{
    internal sealed record Result(int ExitCode, string Output);

    /// <summary>Runs a process to completion, capturing stdout and stderr together.</summary>
    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start {fileName}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = (await stdout + await stderr).Trim();
        return new Result(process.ExitCode, output);
    }

    public static async Task<string> RunCheckedAsync(string fileName, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var args = arguments.ToList();
        var result = await RunAsync(fileName, args, cancellationToken);
        return result.ExitCode == 0
            ? result.Output
            : throw new InvalidOperationException(
                $"'{fileName} {string.Join(' ', args)}' exited with {result.ExitCode}: {result.Output}");
    }
}
