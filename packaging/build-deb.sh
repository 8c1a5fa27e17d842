#!/usr/bin/env bash
# Builds the agentguard .deb from the agent module's build output:
#   build-deb.sh VERSION AGENT_TARGET_DIR OUT_DIR
# The package carries a jlink'd Java runtime (modules found by jdeps), the agent jar and its
# libraries, the native tools the demo, `replay` and `sandbox` use, the systemd unit, the default
# configuration (a conffile), the default rule pack as a readable file and the docs.
set -euo pipefail
VERSION=$1
AGENT=$(readlink -f "$2")
OUT=$(readlink -f "$3")
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$ROOT/scripts/find-java.sh"
JDK=$(dirname "$(dirname "$(readlink -f "$JAVA")")")

# 0.1.0-SNAPSHOT sorts before 0.1.0 in Debian as 0.1.0~snapshot
DEB_VERSION=$(echo "$VERSION" | sed 's/-SNAPSHOT$/~snapshot/')
ARCH=$(dpkg --print-architecture)
STAGE="$OUT/deb/agentguard_${DEB_VERSION}_${ARCH}"
rm -rf "$STAGE"
LIB="$STAGE/usr/lib/agentguard"
install -d "$LIB/lib" "$LIB/native" "$STAGE/usr/bin" "$STAGE/etc/agentguard/rules.d" "$STAGE/lib/systemd/system" \
    "$STAGE/usr/share/doc/agentguard" "$STAGE/DEBIAN"

install -m 0644 "$AGENT/agentguard-agent.jar" "$LIB/"
install -m 0644 "$AGENT"/lib/*.jar "$LIB/lib/"
for tool in nvreplay connector demo_miner sandbox_exec; do
    install -m 0755 "$AGENT/native/$tool" "$LIB/native/"
done

MODULES=$("$JDK/bin/jdeps" --multi-release "${JAVA_RELEASE:-25}" --ignore-missing-deps --print-module-deps -q \
    --class-path "$LIB/lib/*" "$LIB/agentguard-agent.jar")
# jdk.crypto.ec and the locale data are not found by jdeps: TLS to collectors needs the former;
# jdk.management gives the process metrics (CPU time, open files) their MXBean
MODULES="$MODULES,java.logging,java.management,jdk.management,jdk.crypto.ec,jdk.localedata"
"$JDK/bin/jlink" --add-modules "$MODULES" --include-locales=en --strip-debug --no-header-files --no-man-pages \
    --compress=zip-6 --output "$LIB/runtime" 2>&1 | grep -v "^Warning: .*deprecated" || true
[ -x "$LIB/runtime/bin/java" ] || { echo "build-deb: jlink produced no runtime" >&2; exit 1; }
# the runtime's launchers other than java are not needed on a node
find "$LIB/runtime/bin" -type f ! -name java -delete

install -m 0755 "$HERE/debian/agentguard.launcher" "$STAGE/usr/bin/agentguard"
install -m 0644 "$HERE/debian/agentguard.service" "$STAGE/lib/systemd/system/agentguard.service"
install -m 0644 "$HERE/debian/agentguard.yaml" "$STAGE/etc/agentguard/agentguard.yaml"
# The default rule pack as a readable file: what the daemon loads is the copy inside the jar;
# this one is for reading and for writing overrides against (not a conffile: it is replaced on
# upgrade, local changes go to /etc/agentguard/rules.d/ with override: or append:).
PACK_HEADER="# do not edit: override in /etc/agentguard/rules.d/ (override: / append:, docs/RULES.md); the daemon loads the copy inside its jar"
PACK="$STAGE/usr/share/agentguard/rules/default.yaml"
install -d "$STAGE/usr/share/agentguard/rules"
EMBEDDED="$AGENT/classes/io/agentguard/rules/default.yaml"   # what went into the jar
[ -f "$EMBEDDED" ] || EMBEDDED="$ROOT/agent/src/main/resources/io/agentguard/rules/default.yaml"
if head -n 1 "$EMBEDDED" | grep -q "do not edit: override in /etc/agentguard/rules.d/"; then
    install -m 0644 "$EMBEDDED" "$PACK"
else
    { echo "$PACK_HEADER"; cat "$EMBEDDED"; } > "$PACK"
    chmod 0644 "$PACK"
fi
install -m 0644 "$ROOT/README.md" "$ROOT"/docs/*.md "$STAGE/usr/share/doc/agentguard/"
# Grafana dashboard and Prometheus alerting rules (docs/OPERATIONS.md, "Dashboards and alerts")
install -d "$STAGE/usr/share/agentguard/monitoring"
install -m 0644 "$HERE/monitoring/agentguard-dashboard.json" "$HERE/monitoring/agentguard-alerts.yaml" \
    "$STAGE/usr/share/agentguard/monitoring/"
cat > "$STAGE/usr/share/doc/agentguard/copyright" <<'COPYRIGHT'
agentguard: Java parts Apache-2.0; BPF programs and native tools GPL-2.0-only.
Bundled: an OpenJDK runtime (GPL-2.0 with Classpath Exception) and the jars under
/usr/lib/agentguard/lib, each under its own license (see the jar's META-INF).
COPYRIGHT

for script in postinst prerm postrm; do
    install -m 0755 "$HERE/debian/$script" "$STAGE/DEBIAN/$script"
done
echo /etc/agentguard/agentguard.yaml > "$STAGE/DEBIAN/conffiles"
SIZE_KIB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$DEB_VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE_KIB@/$SIZE_KIB/" \
    "$HERE/debian/control.in" > "$STAGE/DEBIAN/control"

DEB="$OUT/agentguard_${DEB_VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "build-deb: $DEB ($(du -h "$DEB" | cut -f1); runtime modules $MODULES)"
