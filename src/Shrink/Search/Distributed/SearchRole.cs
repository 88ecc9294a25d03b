using System.Text.Json.Serialization;
using Shrink.Text;

namespace Shrink.Search;

/// <summary>
/// What a run of <c>shrink optimize</c> or <c>shrink search</c> does with its trials: <see cref="Both"/> proposes and
/// evaluates them on this machine (the default; with a shared store, beside other runs); <see cref="Coordinator"/> only
/// proposes (<see cref="SearchCoordinator"/>) and writes into the study the job that <c>shrink worker</c>s on other machines
/// evaluate its trials with, its inputs in the shared artifacts directory; it waits for their results and writes the
/// same outputs as a local run.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<SearchRole>))]
public enum SearchRole
{
    Both,
    Coordinator,
}

/// <summary>The check both options records make of their role, store and artifacts directory (properties <c>Role</c>, <c>Storage</c>, <c>Artifacts</c>).</summary>
public static class SearchRoles
{
    /// <summary>Throws <see cref="OptionsException"/> when a coordinator has no shared store or no artifacts directory.</summary>
    public static void Validate(SearchRole role, string? storage, string? artifacts)
    {
        var (r, s, a) = (OptionName.Of("Role"), OptionName.Of("Storage"), OptionName.Of("Artifacts"));
        if (role == SearchRole.Coordinator && storage is null)
            throw new OptionsException(OptionText.Of($"{r} coordinator needs {s}: the shared trial store (postgresql://…) that workers claim its trials from"));
        if (role == SearchRole.Coordinator && artifacts is null)
            throw new OptionsException(OptionText.Of($"{r} coordinator needs {a}: a directory every worker reaches, where the model, the data and the trials' models are kept"));
        if (role != SearchRole.Coordinator && artifacts is not null)
            throw new OptionsException(OptionText.Of($"{a} is for {r} coordinator (workers on other machines); leave it out, or add {r} coordinator"));
    }
}
