#!/usr/bin/env bash
# Builds the agentguard-collector .deb from the collector module's build output:
#   build-collector-deb.sh VERSION COLLECTOR_TARGET_DIR OUT_DIR
# Like the agent's package (build-deb.sh): a jlink'd Java runtime (modules found by jdeps),
# the collector jar and its libraries, the launcher, a hardened Type=notify systemd unit, the
# configuration (a conffile, /etc/agentguard/collector.yaml), the docs, the dashboard and alerts.
set -euo pipefail
VERSION=$1
COLLECTOR=$(readlink -f "$2")
OUT=$(readlink -f "$3")
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SRC="$HERE/debian/collector"
. "$ROOT/scripts/find-java.sh"
JDK=$(dirname "$(dirname "$(readlink -f "$JAVA")")")

DEB_VERSION=$(echo "$VERSION" | sed 's/-SNAPSHOT$/~snapshot/')
ARCH=$(dpkg --print-architecture)
STAGE="$OUT/deb/agentguard-collector_${DEB_VERSION}_${ARCH}"
rm -rf "$STAGE"
LIB="$STAGE/usr/lib/agentguard-collector"
DOC="$STAGE/usr/share/doc/agentguard-collector"
install -d "$LIB/lib" "$STAGE/usr/bin" "$STAGE/etc/agentguard" "$STAGE/lib/systemd/system" "$DOC" "$STAGE/DEBIAN"

install -m 0644 "$COLLECTOR/agentguard-collector.jar" "$LIB/"
install -m 0644 "$COLLECTOR"/lib/*.jar "$LIB/lib/"

MODULES=$("$JDK/bin/jdeps" --multi-release "${JAVA_RELEASE:-25}" --ignore-missing-deps --print-module-deps -q \
    --class-path "$LIB/lib/*" "$LIB/agentguard-collector.jar")
# not found by jdeps: TLS (jdk.crypto.ec), Flyway's and the JDBC drivers' logging and naming,
# JVM metrics (java.management), locale data
MODULES="$MODULES,java.logging,java.management,java.naming,java.sql,jdk.crypto.ec,jdk.localedata,jdk.unsupported"
"$JDK/bin/jlink" --add-modules "$MODULES" --include-locales=en --strip-debug --no-header-files --no-man-pages \
    --compress=zip-6 --output "$LIB/runtime" 2>&1 | grep -v "^Warning: .*deprecated" || true
[ -x "$LIB/runtime/bin/java" ] || { echo "build-collector-deb: jlink produced no runtime" >&2; exit 1; }
find "$LIB/runtime/bin" -type f ! -name java -delete

install -m 0755 "$SRC/agentguard-collector.launcher" "$STAGE/usr/bin/agentguard-collector"
install -m 0644 "$SRC/agentguard-collector.service" "$STAGE/lib/systemd/system/agentguard-collector.service"
install -m 0644 "$SRC/collector.yaml" "$STAGE/etc/agentguard/collector.yaml"
install -m 0644 "$ROOT/docs/COLLECTOR.md" "$ROOT/docs/REPORTING.md" "$DOC/"
# the Grafana dashboard and Prometheus alerting rules (docs/OPERATIONS.md), also in the agent's package
install -d "$STAGE/usr/share/agentguard-collector/monitoring"
install -m 0644 "$HERE/monitoring/agentguard-dashboard.json" "$HERE/monitoring/agentguard-alerts.yaml" \
    "$STAGE/usr/share/agentguard-collector/monitoring/"
cat > "$DOC/copyright" <<'COPYRIGHT'
agentguard-collector: Apache-2.0.
Bundled: an OpenJDK runtime (GPL-2.0 with Classpath Exception) and the jars under
/usr/lib/agentguard-collector/lib, each under its own license (see the jar's META-INF).
COPYRIGHT

for script in postinst prerm postrm; do
    install -m 0755 "$SRC/$script" "$STAGE/DEBIAN/$script"
done
echo /etc/agentguard/collector.yaml > "$STAGE/DEBIAN/conffiles"
SIZE_KIB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$DEB_VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE_KIB@/$SIZE_KIB/" "$SRC/control.in" \
    > "$STAGE/DEBIAN/control"

DEB="$OUT/agentguard-collector_${DEB_VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "build-collector-deb: $DEB ($(du -h "$DEB" | cut -f1); runtime modules $MODULES)"
