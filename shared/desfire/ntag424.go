package desfire

// The network's use of a card's application keys (see the package's key custody notes).
const (
	KeyAppMaster byte = 0 // application master key: changes keys and settings; never on a door
	KeyDoor      byte = 1 // door key: authentication at the door and the SDM counter read
)

// NTAG424NDEFFile is the NTAG 424 DNA's NDEF file, which carries the SDM read counter.
const NTAG424NDEFFile byte = 0x02

// NTAG424SDMCounterSettings are the NDEF file settings (ChangeFileSettings data)
// that keep its factory access rights and enable the SDM read counter without
// any mirroring, readable with GetFileCounters under key ctrRetKey (NT4H2421Gx
// §9.3.3, §10.7.1): FileOption 40 (SDM enabled, plain), access rights E0 EE,
// SDMOptions 41 (SDMReadCtr, ASCII), SDMAccessRights F‖ctrRet‖E‖F (meta data in
// plain, no SDM file read), SDMReadCtrOffset FFFFFF (counter not mirrored).
// Enabling SDM resets the counter to 0.
func NTAG424SDMCounterSettings(ctrRetKey byte) []byte {
	return []byte{0x40, 0xE0, 0xEE, 0x41, 0xF0 | ctrRetKey&0x0F, 0xEF, 0xFF, 0xFF, 0xFF}
}
