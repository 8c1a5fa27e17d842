# Sourced by bin/agentguard and scripts/*.sh: sets JAVA to a JDK >= 25 (the build targets
# release 25; FFM needs 22) or exits.
# Order: $JAVA_HOME, then /usr/lib/jvm/* (newest first), then java on PATH.
agentguard_java_ok() {
    local v
    v=$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null
}
JAVA=""
for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV) $(command -v java 2>/dev/null); do
    if [ -x "$candidate" ] && agentguard_java_ok "$candidate"; then
        JAVA="$candidate"
        break
    fi
done
if [ -z "$JAVA" ]; then
    echo "agentguard: no JDK >= 25 found (looked at \$JAVA_HOME, /usr/lib/jvm/*, PATH). Install one, e.g. Temurin 25, or set JAVA_HOME." >&2
    exit 1
fi
JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$JAVA")")")
export JAVA_HOME
