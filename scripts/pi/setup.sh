#!/bin/sh
# Prepares a Raspberry Pi for swc-edge: enables SPI for the RC522 reader,
# creates the service user swc-edge in the gpio and spi groups, installs the
# binary, the systemd unit and the example configuration, and makes the
# configuration and data folders. Safe to run again.
#
#   sudo ./setup.sh --binary ./swc-edge-linux-armv6     # from a release or `make cross`
#   sudo ./setup.sh                                     # swc-edge already in /usr/bin
#
# The swc-edge .deb runs it with --from-package (the package installed the
# binary, unit and example; this does the rest). Then, as the script says:
# swc-edge provision, the self-tests, systemctl enable --now swc-edge.
set -eu

usage() {
	cat <<'EOF'
usage: sudo setup.sh [--binary FILE] [--no-spi] [--from-package]
  --binary FILE    install FILE as /usr/bin/swc-edge
  --no-spi         do not touch the SPI setting (config.txt)
  --from-package   run by the swc-edge package: do not install files
EOF
}

binary=""
spi=yes
from_package=no
while [ $# -gt 0 ]; do
	case "$1" in
	--binary) binary="${2:?--binary needs a file}"; shift 2 ;;
	--no-spi) spi=no; shift ;;
	--from-package) from_package=yes; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "setup.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "setup.sh: run it as root (sudo)" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "setup: $*"; }

# 1. SPI for the reader (only on a Raspberry Pi).
reboot_needed=no
is_pi=no
if grep -qs "Raspberry Pi" /proc/device-tree/model; then is_pi=yes; fi
if [ "$spi" = yes ] && [ "$is_pi" = yes ]; then
	if command -v raspi-config >/dev/null 2>&1; then
		raspi-config nonint do_spi 0
		say "SPI enabled with raspi-config"
	else
		cfg=/boot/firmware/config.txt
		[ -f "$cfg" ] || cfg=/boot/config.txt
		if ! grep -Eq '^[[:space:]]*dtparam=spi=on' "$cfg"; then
			cp "$cfg" "$cfg.swc-edge.bak"
			echo "dtparam=spi=on" >>"$cfg"
			say "SPI enabled in $cfg (the previous file is $cfg.swc-edge.bak)"
		fi
	fi
	if [ ! -e /dev/spidev0.0 ]; then reboot_needed=yes; fi
elif [ "$spi" = yes ]; then
	say "not a Raspberry Pi (no /proc/device-tree/model): SPI left alone"
fi

# 2. Groups owning the GPIO and SPI devices. Raspberry Pi OS has them with
# its udev rules; elsewhere make them and a rule of our own.
for g in gpio spi; do
	if ! getent group "$g" >/dev/null; then
		groupadd --system "$g"
		say "group $g created"
		cat >/etc/udev/rules.d/99-swc-edge.rules <<'EOF'
# swc-edge: GPIO and SPI for the groups gpio and spi (Raspberry Pi OS has
# equivalent rules of its own).
SUBSYSTEM=="spidev", GROUP="spi", MODE="0660"
KERNEL=="gpiomem", GROUP="gpio", MODE="0660"
SUBSYSTEM=="gpio", GROUP="gpio", MODE="0660"
EOF
		command -v udevadm >/dev/null 2>&1 && udevadm control --reload-rules && udevadm trigger || true
	fi
done

# 3. The service user: no login, no home of its own, in gpio and spi.
if ! getent passwd swc-edge >/dev/null; then
	useradd --system --user-group --home-dir /var/lib/swc-edge --no-create-home --shell /usr/sbin/nologin swc-edge
	say "user swc-edge created"
fi
usermod -a -G gpio,spi swc-edge

# 4. Files (the package installs its own).
if [ "$from_package" = no ]; then
	if [ -n "$binary" ]; then
		install -m 0755 "$binary" /usr/bin/swc-edge
		say "installed $binary as /usr/bin/swc-edge"
	fi
	if ! command -v swc-edge >/dev/null 2>&1; then
		echo "setup.sh: no swc-edge in /usr/bin: give --binary FILE (from a release or make cross), or install the swc-edge package" >&2
		exit 1
	fi
	install -m 0644 "$here/../systemd/swc-edge.service" /lib/systemd/system/swc-edge.service
	install -d -m 0755 /usr/share/doc/swc-edge
	install -m 0644 "$here/swc-edge.toml" /usr/share/doc/swc-edge/swc-edge.toml.example
	install -m 0644 "$here/README.md" /usr/share/doc/swc-edge/README.md
	say "installed the systemd unit and the example configuration"
fi

# 5. Folders: configuration (root's), data (the service user's).
install -d -m 0755 /etc/swc-edge
install -d -m 0750 -o swc-edge -g swc-edge /var/lib/swc-edge
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
fi

cat <<EOF

swc-edge is installed. Next:
  1. sudo swc-edge provision --central https://CENTRAL:8443 --door DOOR --token TOKEN --ca-fingerprint sha256:...
     (the exact command comes with the door's enrollment token)
  2. check the pins in /etc/swc-edge/swc-edge.toml, then:
       swc-edge test reader --config /etc/swc-edge/swc-edge.toml
       swc-edge test relay  --config /etc/swc-edge/swc-edge.toml
       swc-edge test inputs --config /etc/swc-edge/swc-edge.toml
     (run them as a user in the gpio and spi groups, or with sudo)
  3. sudo systemctl enable --now swc-edge
EOF
if [ "$reboot_needed" = yes ]; then
	echo
	echo "REBOOT FIRST: /dev/spidev0.0 appears only after a reboot with SPI enabled (sudo reboot)."
fi
