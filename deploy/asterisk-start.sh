#!/bin/sh
# Entrypoint of the asterisk service in docker-compose.yml. Asterisk's config files cannot read environment
# variables, so this copies the repository's asterisk_conf/ (mounted read-only) over the image's stock
# /etc/asterisk and writes into the copy what only the deployment knows:
#   ari.conf      password of [ivr-survey]      <- IVR_SURVEY_ARI_PASSWORD
#   manager.conf  secret of [ivr-survey]        <- IVR_SURVEY_AMI_SECRET
#                 bindaddr 0.0.0.0, permit = the compose network (the service is another container)
#   http.conf     bindaddr 0.0.0.0 (ARI, reached by the service over the compose network)
#   pjsip.conf    external_*_address <- ASTERISK_PUBLIC_ADDRESS, local_net = the compose network (Docker NATs
#                 SIP and RTP, so phones must be told the host's address, not the container's)
#   extensions.conf  agi://127.0.0.1: -> agi://ivr-survey: (FastAGI runs in the ivr-survey container)
# The secrets live only in the container's /etc/asterisk, never in the repository or an image. Then it runs
# the image's own entrypoint and Asterisk ("$@"). The *_DIR / ROUTE_TABLE variables exist for the tests.
set -eu

SRC=${CONF_SRC_DIR:-/opt/ivr-survey/asterisk_conf}
DST=${CONF_DST_DIR:-/etc/asterisk}
RECORDINGS=${RECORDINGS_DIR:-/var/spool/asterisk/monitor}
ROUTES=${ROUTE_TABLE:-/proc/net/route}
ARI_USER=${IVR_SURVEY_ARI_USER:-ivr-survey}
AMI_USER=${IVR_SURVEY_AMI_USER:-ivr-survey}
AGI_SERVICE=${AGI_SERVICE_HOST:-ivr-survey}

die() {
    echo "asterisk-start: $*" >&2
    exit 1
}

# A value as an Asterisk config file reads it back: ';' starts a comment unless escaped. Leading and trailing
# blanks would be stripped and a newline would end the line, so such a secret is refused, not mangled.
conf_value() {  # conf_value NAME VALUE
    case $2 in
        '') die "$1 is not set" ;;
        *'
'*) die "$1 must be one line" ;;
        ' '* | *' ' | '	'* | *'	') die "$1 must not start or end with a blank" ;;
    esac
    printf '%s' "$2" | sed 's/;/\\;/g'
}

# Set KEY in the first [SECTION] of FILE to VALUES (one line per value): the key's first line there is replaced
# (later ones dropped), or the key is added at the end of the section. Fails when FILE has no such section.
set_key() {  # set_key FILE SECTION KEY VALUES
    SECTION=$2 KEY=$3 VALUES=$4 awk '
        function emit(  n, i, v) {
            n = split(ENVIRON["VALUES"], v, "\n")
            for (i = 1; i <= n; i++) print ENVIRON["KEY"] " = " v[i]
            done = 1
        }
        # Comments and blank lines at the end of the section belong to what follows: added keys go above them.
        function flush() { printf "%s", held; held = "" }
        /^[ \t]*\[/ {
            if (insec && !done) emit()
            flush()
            name = $0; sub(/^[ \t]*\[/, "", name); sub(/\].*/, "", name)
            insec = (name == ENVIRON["SECTION"] && !found)
            if (insec) found = 1
            print
            next
        }
        insec && $0 ~ ("^[ \t]*" ENVIRON["KEY"] "[ \t]*=") { flush(); if (!done) emit(); next }
        insec && !done && (/^[ \t]*;/ || /^[ \t]*$/) { held = held $0 "\n"; next }
        { flush(); print }
        END { if (insec && !done) emit(); flush(); if (!found) exit 3 }
    ' "$1" > "$1.new" || { rm -f "$1.new"; die "$(basename "$1") has no [$2] section"; }
    mv "$1.new" "$1"
}

# Little-endian hex from /proc/net/route to a dotted quad.
hex_ip() {
    h=$1
    echo "$((0x$(echo "$h" | cut -c7-8))).$((0x$(echo "$h" | cut -c5-6))).$((0x$(echo "$h" | cut -c3-4))).$((0x$(echo "$h" | cut -c1-2)))"
}

# The networks this container is attached to (the compose network), as address/mask lines.
local_networks() {
    while read -r iface dest _gateway _flags _refcnt _use _metric mask _rest; do
        case $iface in Iface | lo) continue ;; esac
        [ "$dest" = 00000000 ] && continue  # the default route
        echo "$(hex_ip "$dest")/$(hex_ip "$mask")"
    done < "$ROUTES"
}

ari_password=$(conf_value IVR_SURVEY_ARI_PASSWORD "${IVR_SURVEY_ARI_PASSWORD:-}")
ami_secret=$(conf_value IVR_SURVEY_AMI_SECRET "${IVR_SURVEY_AMI_SECRET:-}")
public_address=$(conf_value ASTERISK_PUBLIC_ADDRESS "${ASTERISK_PUBLIC_ADDRESS:-}")
[ -r "$ROUTES" ] || die "cannot read $ROUTES"
networks=$(local_networks)
[ -n "$networks" ] || die "no network found in $ROUTES"

[ -f "$SRC/extensions.conf" ] || die "$SRC does not hold asterisk_conf/ (extensions.conf missing)"
mkdir -p "$DST"
cp "$SRC"/*.conf "$DST"/

set_key "$DST/ari.conf" "$ARI_USER" password "$ari_password"
set_key "$DST/ari.conf" "$ARI_USER" password_format plain
set_key "$DST/http.conf" general bindaddr 0.0.0.0
set_key "$DST/manager.conf" general bindaddr 0.0.0.0
set_key "$DST/manager.conf" "$AMI_USER" secret "$ami_secret"
set_key "$DST/manager.conf" "$AMI_USER" permit "$networks"
set_key "$DST/pjsip.conf" transport-udp external_media_address "$public_address"
set_key "$DST/pjsip.conf" transport-udp external_signaling_address "$public_address"
set_key "$DST/pjsip.conf" transport-udp local_net "$networks"
sed "s#agi://127\.0\.0\.1:#agi://$AGI_SERVICE:#g" "$DST/extensions.conf" > "$DST/extensions.conf.new"
mv "$DST/extensions.conf.new" "$DST/extensions.conf"
chmod 0640 "$DST/ari.conf" "$DST/manager.conf"

# Asterisk reads its config and writes recordings as the image's asterisk user; the recordings volume may have
# been created empty (root-owned) by the ivr-survey container, which reads it through the asterisk group.
if [ "$(id -u)" = 0 ] && id asterisk > /dev/null 2>&1; then
    chown asterisk:asterisk "$DST"/*.conf
    mkdir -p "$RECORDINGS"
    chown asterisk:asterisk "$RECORDINGS"
    chmod 0750 "$RECORDINGS"
fi

echo "asterisk-start: configuration rendered into $DST (ARI user $ARI_USER, AMI user $AMI_USER, networks: $(printf '%s' "$networks" | tr '\n' ' '))"
exec "$@"
