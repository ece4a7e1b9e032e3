# shellcheck shell=sh
# Part: the path rule (src/inventory/path_rule.rs, docs/security.md) on the
# host's own view of a path, right before root acts on it. The lists come
# from path_rule.rs as arguments; validation checked the path as the
# inventory writes it, this checks it with the host's symlinks resolved.
#   checked WHAT PATH KIND   prints PATH with its symlinks resolved, or ends
#     the script (exit 3) saying why root will not act there: the resolved
#     path breaks the rule (KIND dedicated: strictly below a root; data: or
#     anywhere not forbidden once it holds etcd's data), or a directory above
#     it is not root's alone (owned by another user, or writable by group or
#     others), so that someone else could swap what the path names between
#     this check and the act.
# Arguments: ROOT... -- NEVER... --
rule_roots='' rule_never=''
while [ "$1" != -- ]; do rule_roots="$rule_roots $1"; shift; done
shift
while [ "$1" != -- ]; do rule_never="$rule_never $1"; shift; done
shift

# PATH with every symlink resolved; the part that does not exist yet is kept
# as written (validated plain: no `.` or `..` parts).
resolved() {
  rp=$1 rrest=
  while [ -n "$rp" ] && [ ! -e "$rp" ] && [ ! -L "$rp" ]; do
    rrest="/${rp##*/}$rrest"
    rp=${rp%/*}
  done
  if [ -z "$rp" ]; then
    echo "$rrest"
    return 0
  fi
  rbase=$(readlink -f -- "$rp") || return 1
  [ "$rbase" = / ] && rbase=
  echo "$rbase$rrest"
}

rule_within() {
  [ "$1" = "$2" ] && return 0
  case $1 in "$2"/*) return 0 ;; esac
  return 1
}

# dedicated, etcds (a data directory holding etcd's data only) or
# never:WHY, as path_rule::verdict.
rule_verdict() {
  for t in $rule_never; do
    if rule_within "$1" "$t"; then echo "never:inside $t"; return 0; fi
  done
  for s in $rule_roots $rule_never; do
    if [ -z "$1" ] || rule_within "$s" "$1"; then
      echo "never:a system directory or a parent of one"
      return 0
    fi
  done
  for r in $rule_roots; do
    if [ "$1" != "$r" ] && rule_within "$1" "$r"; then echo dedicated; return 0; fi
  done
  echo etcds
}

checked() {
  cwhat=$1 cpath=$2 ckind=$3
  creal=$(resolved "$cpath") || { echo "refusing $cwhat $cpath: its path cannot be resolved" >&2; exit 3; }
  cshown=$cpath
  [ "$creal" = "$cpath" ] || cshown="$cpath (which is $creal)"
  cverdict=$(rule_verdict "$creal")
  case $cverdict in
    dedicated) ;;
    etcds)
      if [ "$ckind" != data ] || [ ! -d "$creal/member" ]; then
        echo "refusing $cwhat $cshown: not below$rule_roots, and it holds no etcd data; see docs/security.md" >&2
        exit 3
      fi
      ;;
    never:*)
      echo "refusing $cwhat $cshown: it is ${cverdict#never:}; see docs/security.md" >&2
      exit 3
      ;;
  esac
  cup=${creal%/*}
  while [ -n "$cup" ]; do
    if [ -e "$cup" ]; then
      case $(stat -c '%u %A' "$cup") in
        0\ d????-??-?*) ;;
        *)
          echo "refusing $cwhat $cshown: $cup above it is not root's alone ($(stat -c '%U %A' "$cup")), so another user could swap it; see docs/security.md" >&2
          exit 3
          ;;
      esac
    fi
    cup=${cup%/*}
  done
  echo "$creal"
}
