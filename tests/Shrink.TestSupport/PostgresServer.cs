using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Shrink.TestSupport;

/// <summary>
/// A throwaway PostgreSQL server for the distributed-trial tests: Debian's postgresql binaries
/// (<c>/usr/lib/postgresql/N/bin</c>, or <c>PG_BIN</c>), a cluster initialised in a temporary directory, listening on
/// 127.0.0.1 on a free port with trust authentication, started once per test process and stopped (and deleted) when it
/// ends. Under root the server runs as <c>nobody</c> (initdb refuses root). Each test takes its own PostgreSQL schema
/// (<see cref="Url"/>), so tests running at once never see each other's studies. <see cref="Get"/> returns null, saying
/// why, when the binaries are missing, unless <c>SHRINK_REQUIRE_POSTGRES=1</c> (CI sets it), where it fails instead.
/// </summary>
internal sealed class PostgresServer
{
    private static readonly Lazy<PostgresServer?> Shared = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly string _bin, _root;
    private readonly bool _asNobody;

    private PostgresServer(string bin, string root, int port, bool asNobody) => (_bin, _root, Port, _asNobody) = (bin, root, port, asNobody);

    public int Port { get; }

    private string Data => Path.Combine(_root, "data");

    /// <summary>The shared server, or null (after writing why) when PostgreSQL is not installed and not required.</summary>
    public static PostgresServer? Get()
    {
        var server = Shared.Value;
        if (server is not null) return server;
        Assert.True(Environment.GetEnvironmentVariable("SHRINK_REQUIRE_POSTGRES") is null or "" or "0",
            "SHRINK_REQUIRE_POSTGRES is set but no PostgreSQL binaries were found; install Debian's postgresql package (apt-get install -y postgresql)");
        Console.Error.WriteLine("skipped: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb), so the shared-store test did not run (set SHRINK_REQUIRE_POSTGRES=1 to fail instead)");
        return null;
    }

    /// <summary>A storage URL of a fresh schema of its own on this server (<paramref name="retry"/>: seconds an unreachable server is retried).</summary>
    public string Url(double retry = 30) => $"postgresql://shrink@127.0.0.1:{Port}/postgres?schema=t{Guid.NewGuid():N}&retry={retry}";

    /// <summary>Stops the server at once (connections drop), as a network failure would look to its clients.</summary>
    public void Stop() => Ctl("stop", "-m", "immediate", "-w");

    /// <summary>Starts it again on the same port and data.</summary>
    public void Restart() => Ctl("start", "-w", "-l", Path.Combine(_root, "log"), "-o", Options);

    private string Options => $"-c listen_addresses=127.0.0.1 -p {Port} -k {_root} -c fsync=off -c synchronous_commit=off -c max_connections=300";

    private static PostgresServer? Start()
    {
        var bin = Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } given ? given
            : Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault() : null;
        if (bin is null) return null;
        var root = Path.Combine(Path.GetTempPath(), "shrink-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        var asNobody = Environment.UserName == "root";
        if (asNobody) Run("chown", "nobody", root);
        var server = new PostgresServer(bin, root, FreePort(), asNobody);
        server.Tool("initdb", "-D", server.Data, "-A", "trust", "-U", "shrink", "--no-sync", "-E", "UTF8");
        server.Restart();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { server.Ctl("stop", "-m", "immediate", "-w"); } catch (Exception) { }
            try { Directory.Delete(root, recursive: true); } catch (Exception) { }
        };
        return server;
    }

    private void Ctl(params string[] args) => Tool("pg_ctl", ["-D", Data, .. args]);

    private void Tool(string name, params string[] args)
    {
        var path = Path.Combine(_bin, name);
        if (_asNobody) Run("runuser", ["-u", "nobody", "--", path, .. args]);
        else Run(path, args);
    }

    private static void Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{command} {string.Join(' ', args)} exited {p.ExitCode}: {error} {output.Result}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
