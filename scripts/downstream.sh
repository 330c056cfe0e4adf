#!/usr/bin/env bash
# Builds the programs under downstream/ against the PACKAGED crates, as the
# people who add `mqttkit-session = "0.1"` to their Cargo.toml will:
#
#     scripts/downstream.sh [DIR_WITH_.crate_FILES]
#
# Without an argument it packages mqttkit-topic, mqttkit-codec,
# mqttkit-session and mqttkit-tokio itself (`cargo package --no-verify`:
# .ci/run verified them already with `cargo publish --dry-run`); with one it
# takes the four
# `.crate` files from that directory (for example `target/package` after a
# `cargo package`).
#
# The `.crate` files are unpacked into a directory source V (each with a
# `.cargo-checksum.json` naming the `.crate`'s sha256), the third-party
# crates they depend on are added to V with `cargo vendor`, and each program
# is built from a copy of downstream/ whose `.cargo/config.toml` replaces
# crates.io with V. The programs' manifests name the crates by version only
# (no path, no [patch]), and each build's Cargo.lock must record for every
# mqttkit crate the checksum of the `.crate` file, with no path source in
# `cargo tree`.
#
# Checks: broker-side built and run, client built (and run against
# mosquitto when one is installed), firmware built for thumbv7em-none-eabihf
# in release, and `cargo test --doc` on each README in a crate that depends
# only on the crate it describes (the top README.md: on the four crates).
# The READMEs are copied in from the workspace, so the current text is tested.
#
# Builds go to ${CARGO_TARGET_DIR:-target}/downstream; the work tree
# (copies, V) is made anew under it on each run and removed at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$SECONDS

target="$(mkdir -p "${CARGO_TARGET_DIR:-$root/target}/downstream" && cd "${CARGO_TARGET_DIR:-$root/target}/downstream" && pwd)"
work="$target/work"
crates=(mqttkit-topic mqttkit-codec mqttkit-session mqttkit-tokio)
broker_pid=""
cleanup() {
    [ -z "$broker_pid" ] || kill "$broker_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work/unpacked"

echo "== the .crate files"
if [ $# -ge 1 ]; then
    crate_dir="$(cd "$1" && pwd)"
else
    # The warnings that the tests are left out of the packages are expected.
    if ! cargo package -q -p mqttkit-topic -p mqttkit-codec -p mqttkit-session -p mqttkit-tokio \
        --allow-dirty --no-verify --target-dir "$target" 2>"$work/package.log"; then
        cat "$work/package.log" >&2
        exit 1
    fi
    grep -v '^warning: ignoring test' "$work/package.log" >&2 || true
    crate_dir="$target/package"
fi
# The workspace's version of each crate (no resolution, so no Cargo.lock write).
metadata="$(cargo metadata -q --no-deps --format-version 1 --offline)"
declare -A version sha
for c in "${crates[@]}"; do
    v="$(grep -o "\"name\":\"$c\",\"version\":\"[^\"]*\"" <<<"$metadata" | sed 's/.*"version":"//; s/"$//')"
    file="$crate_dir/$c-$v.crate"
    [ -f "$file" ] || { echo "downstream.sh: $file is missing" >&2; exit 1; }
    version[$c]="$v"
    sha[$c]="$(sha256sum "$file" | cut -d' ' -f1)"
    tar -xzf "$file" -C "$work/unpacked"
    echo "$c $v  sha256 ${sha[$c]}"
done

# V's path is part of the source id, and cargo takes a registry crate of an
# unchanged version as unchanged: naming V after the .crate checksums makes
# a changed crate a new source, so no stale build of it is reused.
vendor="$work/vendor-$(for c in "${crates[@]}"; do echo "${sha[$c]}"; done | sha256sum | cut -c1-16)"

echo "== the directory source: the packaged crates and their third-party dependencies"
# A throwaway package depending on the four crates (default features, and
# the tokio driver's transports: the superset of what the programs
# enable), resolved with each crate patched
# to its unpacked .crate; `cargo vendor` copies in the registry crates and
# leaves out the path ones, which go in with the .crate's checksum.
mkdir -p "$work/resolve/src"
: >"$work/resolve/src/lib.rs"
{
    printf '[package]\nname = "downstream-resolve"\nversion = "0.0.0"\nedition = "2024"\nrust-version = "1.95"\n\n[dependencies]\n'
    for c in "${crates[@]}"; do printf '%s = { version = "%s", features = [%s] }\n' "$c" "${version[$c]}" "$([ "$c" = mqttkit-tokio ] && echo '"tls", "websocket"')"; done
    printf '\n[patch.crates-io]\n'
    for c in "${crates[@]}"; do printf '%s = { path = "%s" }\n' "$c" "$work/unpacked/$c-${version[$c]}"; done
    printf '\n[workspace]\n'
} >"$work/resolve/Cargo.toml"
(cd "$work/resolve" && cargo vendor -q --versioned-dirs "$vendor" >/dev/null)
for c in "${crates[@]}"; do
    mv "$work/unpacked/$c-${version[$c]}" "$vendor/"
    printf '{"files":{},"package":"%s"}' "${sha[$c]}" >"$vendor/$c-${version[$c]}/.cargo-checksum.json"
done
ls "$vendor" | tr '\n' ' '
echo

# The programs, in a copy with crates.io replaced by V. `cp -p` keeps the
# times, so an unchanged program is not rebuilt.
programs="$work/downstream"
cp -Rp "$root/downstream" "$programs"
rm -rf "$programs"/*/target "$programs"/*/Cargo.lock
cp -p "$root/mqtt-topic/README.md" "$programs/readme-topic/README.md"
cp -p "$root/mqtt-codec/README.md" "$programs/readme-codec/README.md"
cp -p "$root/mqtt-session/README.md" "$programs/readme-session/README.md"
cp -p "$root/mqtt-tokio/README.md" "$programs/readme-tokio/README.md"
cp -p "$root/README.md" "$programs/readme-toolkit/README.md"
mkdir -p "$programs/.cargo"
cat >"$programs/.cargo/config.toml" <<EOF
[source.crates-io]
replace-with = "packaged-mqttkit"

[source.packaged-mqttkit]
directory = "$vendor"

[net]
offline = true

[build]
target-dir = "$target"
rustflags = ["-D", "warnings"]
EOF
# The settings above, not the caller's, decide where and how these build.
unset CARGO_TARGET_DIR RUSTFLAGS CARGO_BUILD_TARGET_DIR CARGO_BUILD_RUSTFLAGS

# Each mqttkit crate in the program's Cargo.lock carries the .crate's
# checksum, and nothing in its dependency tree comes from a path.
check_packaged() {
    local dir="$1" name="$2" found=0 tree
    shift 2
    for c in "${crates[@]}"; do
        local sum
        sum="$(awk -v name="$c" '$1 == "name" { cur = $3 } $1 == "checksum" && cur == "\"" name "\"" { gsub(/"/, "", $3); print $3 }' "$dir/Cargo.lock")"
        [ -n "$sum" ] || continue
        found=$((found + 1))
        if [ "$sum" != "${sha[$c]}" ]; then
            echo "$name: $c in Cargo.lock has checksum $sum, not the .crate's ${sha[$c]}" >&2
            return 1
        fi
    done
    [ "$found" -gt 0 ] || { echo "$name: no mqttkit crate in Cargo.lock" >&2; return 1; }
    tree="$(cd "$dir" && cargo tree --prefix none -e normal,build "$@" | tail -n +2)"
    if grep -F '(/' <<<"$tree"; then
        echo "$name: the dependencies above come from a path, not the packaged crates" >&2
        return 1
    fi
    echo "$name: $found packaged mqttkit crate(s), checksums match, no path dependency"
}

failures=()
fail() {
    failures+=("$1")
    echo "FAILED: $1" >&2
}

echo "== broker-side: built and run"
if (cd "$programs/broker-side" && cargo build -q && check_packaged . broker-side &&
    cargo run -q); then :; else fail broker-side; fi

echo "== client: built"
if (cd "$programs/client" && cargo build -q && check_packaged . client); then
    mosquitto="$(command -v mosquitto || true)"
    for p in /usr/sbin/mosquitto /usr/local/sbin/mosquitto; do
        if [ -z "$mosquitto" ] && [ -x "$p" ]; then mosquitto="$p"; fi
    done
    if [ -n "$mosquitto" ]; then
        port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        "$mosquitto" -p "$port" >"$work/mosquitto.log" 2>&1 &
        broker_pid=$!
        for _ in $(seq 50); do
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            sleep 0.1
        done
        echo "== client: run against mosquitto on 127.0.0.1:$port"
        if (cd "$programs/client" && cargo run -q -- "127.0.0.1:$port"); then :; else
            cat "$work/mosquitto.log" >&2
            fail "client against mosquitto"
        fi
        kill "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
        broker_pid=""
    else
        echo "client: not run, no mosquitto installed (apt-get install mosquitto)"
    fi
else
    fail client
fi

echo "== firmware: built for thumbv7em-none-eabihf, release"
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
if (cd "$programs/firmware" && cargo build -q --release --target thumbv7em-none-eabihf &&
    check_packaged . firmware --target thumbv7em-none-eabihf); then :; else fail firmware; fi

for readme in topic codec session tokio toolkit; do
    echo "== readme-$readme: cargo test --doc"
    if (cd "$programs/readme-$readme" && cargo test -q --doc && check_packaged . "readme-$readme"); then :; else
        fail "readme-$readme"
    fi
done

echo "== lines of each program (non-blank, non-comment)"
for p in client broker-side firmware; do
    n="$(cat "$root/downstream/$p"/src/*.rs | grep -cvE '^[[:space:]]*($|//)')"
    printf '%-12s %4d\n' "$p" "$n"
done
echo "== downstream.sh: $((SECONDS - start)) s"
if [ "${#failures[@]}" -gt 0 ]; then
    echo "downstream.sh: failed: ${failures[*]}" >&2
    exit 1
fi
echo "downstream.sh: all downstream checks passed"
