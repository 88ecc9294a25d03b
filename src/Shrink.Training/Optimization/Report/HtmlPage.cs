using System.Text;
using static System.Net.WebUtility;

namespace Shrink.Training.Optimization;

/// <summary>
/// What the report pages share (<see cref="ReportHtml"/> of <c>shrink optimize</c>, <c>SearchReportHtml</c> of <c>shrink search</c>):
/// the head with the inline style and the load check, plots embedded as base64 SVG images, and HTML escaping. A page is
/// self-contained (no external address) and needs no script to be read.
/// </summary>
internal static class HtmlPage
{
    /// <summary>
    /// The page up to its open body: the title (escaped), the style, and a script that marks the body <c>data-check="ok"</c>
    /// once every image has decoded and the element <paramref name="requiredId"/> exists ("broken: N of M images" otherwise;
    /// "error: …" after a script error anywhere on the page, since it is in the head and hears every later script).
    /// </summary>
    public static StringBuilder Start(string title, string requiredId) =>
        new StringBuilder(64 * 1024).Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(HtmlEncode(title))
            .Append("</title>\n<style>").Append(Css).Append("</style>\n<script>").Append(Check.Replace("REQUIRED", requiredId, StringComparison.Ordinal))
            .Append("</script></head>\n<body data-check=\"pending\">\n");

    /// <summary>An SVG plot as an image (<paramref name="none"/>, when not empty, in its place when there is nothing to plot).</summary>
    public static void Image(StringBuilder h, string? svg, string alt, string none)
    {
        if (svg is null)
        {
            if (none.Length > 0) h.Append("<p>").Append(E(none)).Append("</p>\n");
            return;
        }
        h.Append("<img alt=\"").Append(E(alt)).Append("\" src=\"data:image/svg+xml;base64,").Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(svg))).Append("\">\n");
    }

    public static string E(string s) => HtmlEncode(s);

    private const string Css = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#212529;line-height:1.45}"
        + "h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #dee2e6}table{border-collapse:collapse;margin:.6em 0;font-size:.92em}"
        + "td,th{border:1px solid #dee2e6;padding:.25em .6em;text-align:left;vertical-align:top}thead th{background:#f1f3f5}tbody th{font-weight:normal;background:#f8f9fa}"
        + "tr.chosen td{background:#fff4e6}.met{color:#2b8a3e;font-weight:600}.miss{color:#c92a2a;font-weight:600}.note{color:#495057;font-size:.88em}"
        + "img{max-width:100%;display:block;margin:.6em 0}code{background:#f1f3f5;padding:.1em .3em}";

    private const string Check = "window.addEventListener('error',function(e){document.body.dataset.check='error: '+e.message;});"
        + "window.addEventListener('load',function(){if(document.body.dataset.check!=='pending')return;var i=Array.from(document.images),"
        + "b=i.filter(function(x){return !(x.complete&&x.naturalWidth>0);});"
        + "document.body.dataset.check=b.length===0&&document.getElementById('REQUIRED')?'ok':'broken: '+b.length+' of '+i.length+' images';});";
}
