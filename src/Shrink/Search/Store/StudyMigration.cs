namespace Shrink.Search;

/// <summary>
/// <c>shrink study migrate FROM TO</c>: copies studies, with every trial as it is (numbers, states, metrics, times,
/// attempts) and the late results left behind, from one store to another — SQLite to PostgreSQL to move a search onto
/// many machines, back to take it home, or into a store of the current schema. The source is only read. A study with
/// running trials is refused (its workers hold leases that cannot move): stop them, or wait for them to finish.
/// </summary>
public static class StudyMigration
{
    /// <summary>Copies <paramref name="study"/> (null: every study) of <paramref name="from"/> into <paramref name="to"/>; returns the studies and their trial counts.</summary>
    public static IReadOnlyList<(string Study, int Trials)> Copy(ITrialStore from, ITrialStore to, string? study = null)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        var studies = study is null ? from.Studies()
            : [from.FindStudy(study) ?? throw new OptionsException($"there is no study '{study}' in {TrialWorker.Describe(from)}; `shrink study status --storage …` lists them")];
        if (studies.Count == 0) throw new OptionsException($"{TrialWorker.Describe(from)} holds no study to migrate");
        var copies = studies.Select(s => (Info: s, Trials: from.List(s))).ToList();
        foreach (var (info, trials) in copies)
        {
            if (trials.Count(t => t.Status == TrialStatus.Running) is var running and > 0)
                throw new OptionsException($"study '{info.Name}' has {running} running trials; stop its workers (or wait until they finish) before migrating it");
            if (to.FindStudy(info.Name) is not null)
                throw new OptionsException($"{TrialWorker.Describe(to)} has a study '{info.Name}' already; migrate into another store (or schema: ?schema=NAME)");
        }
        return copies.Select(c => { to.Import(c.Info, c.Trials); return (c.Info.Name, c.Trials.Count); }).ToList();
    }
}
