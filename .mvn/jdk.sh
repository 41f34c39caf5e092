# shellcheck shell=sh
# One place that picks the JDK for this project (sourced by ./mvnw and ./ledger): the build needs Java 21+
# (jOOQ 3.21 runs only on 21+). Tries JAVA_HOME, then `java` on PATH, then every JDK under /usr/lib/jvm, and
# exports JAVA_HOME for the first that is 21 or newer; prints one sentence and returns 1 when there is none.

ledger_java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
}

ledger_select_jdk() {
  _ledger_required=21
  _ledger_tried=''
  _ledger_noglob=$(case $- in *f*) echo 1 ;; esac)
  set +f
  for _ledger_java in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)" /usr/lib/jvm/*/bin/java; do
    [ -n "$_ledger_java" ] && [ -x "$_ledger_java" ] || continue
    _ledger_major=$(ledger_java_major "$_ledger_java" 2>/dev/null || true)
    _ledger_tried="$_ledger_tried $_ledger_java(${_ledger_major:-?})"
    if [ -n "$_ledger_major" ] && [ "$_ledger_major" -ge "$_ledger_required" ]; then
      JAVA_HOME=$(cd "$(dirname "$_ledger_java")/.." && pwd -P)
      export JAVA_HOME
      LEDGER_JAVA_MAJOR=$_ledger_major
      [ -n "$_ledger_noglob" ] && set -f
      return 0
    fi
  done
  [ -n "$_ledger_noglob" ] && set -f
  echo "This project needs a JDK $_ledger_required or newer (found only:${_ledger_tried:- none}); install one (e.g. Temurin 21+) or set JAVA_HOME to it." >&2
  return 1
}
