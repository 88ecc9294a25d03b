#!/usr/bin/env bash
# Packs Shrink, Shrink.Training and the shrink tool into artifacts/packages, then builds and runs every
# example (examples/*/*.csproj) against those packages, as a project outside this repository would:
# a fresh NuGet cache, so that packages left by an earlier pack cannot stand in for these, and fresh
# bin/ and obj/ folders. Prints the package sizes. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
feed=$root/artifacts/packages
rm -rf "$feed"
dotnet pack Shrink.sln -c Release -o "$feed" -nologo -v quiet
echo "packages ($feed):"
for p in "$feed"/*.nupkg; do stat -c '%s %n' "$p"; done | awk '{ n = split($2, a, "/"); printf "  %-40s %8.1f MB\n", a[n], $1 / 1e6 }'

# Dependencies (TorchSharp, libtorch, ONNX Runtime…) come from the packages the pack just restored, so the
# fresh cache does not download them again; nuget.org stays as the fallback. Shrink's own packages come
# from the local feed only.
global=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/NuGet.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="shrink-local" value="$feed" />
    <add key="restored" value="$global" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="shrink-local"><package pattern="Shrink" /><package pattern="Shrink.*" /></packageSource>
    <packageSource key="restored"><package pattern="*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
CONFIG
export NUGET_PACKAGES=$work/nuget
for project in examples/*/*.csproj; do
  dir=$(dirname "$project")
  name=$(basename "$dir")
  rm -rf "$dir/bin" "$dir/obj"
  echo "== example $name"
  dotnet restore "$project" --configfile "$work/NuGet.config" -nologo -v quiet
  dotnet build "$project" -c Release --no-restore -nologo -v quiet
  (cd "$work" && dotnet "$root/$dir/bin/Release/net10.0/$name.dll")
done
