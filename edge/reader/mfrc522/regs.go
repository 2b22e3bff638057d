package mfrc522

// MFRC522 registers (datasheet section 9.2).
const (
	regCommand    = 0x01
	regComIEn     = 0x02
	regComIrq     = 0x04
	regDivIrq     = 0x05
	regError      = 0x06
	regFIFOData   = 0x09
	regFIFOLevel  = 0x0A
	regControl    = 0x0C
	regBitFraming = 0x0D
	regColl       = 0x0E
	regMode       = 0x11
	regTxControl  = 0x14
	regTxASK      = 0x15
	regRFCfg      = 0x26
	regTMode      = 0x2A
	regTPrescaler = 0x2B
	regTReloadH   = 0x2C
	regTReloadL   = 0x2D
	regAutoTest   = 0x36
	regVersion    = 0x37
)

// Commands (CommandReg[3:0]) and CommandReg bits.
const (
	cmdIdle       = 0x00
	cmdMem        = 0x01
	cmdCalcCRC    = 0x03
	cmdTransceive = 0x0C
	cmdSoftReset  = 0x0F

	commandPowerDown = 0x10
)

// Interrupt request bits (ComIrqReg, ComIEnReg).
const (
	irqTx    = 0x40
	irqRx    = 0x20
	irqTimer = 0x01
	irqAll   = 0x7F // written with Set1 = 0: clears every request
	irqInv   = 0x80 // ComIEnReg: IRQ pin active low
)

// ErrorReg bits.
const (
	errWr       = 0x80
	errTemp     = 0x40
	errReserved = 0x20 // always reads 0 on a working chip
	errBufOvfl  = 0x10
	errColl     = 0x08
	errCRC      = 0x04
	errParity   = 0x02
	errProtocol = 0x01
)

// Other bits.
const (
	fifoFlush           = 0x80 // FIFOLevelReg
	controlTStartNow    = 0x40 // ControlReg: start the timer now
	startSend           = 0x80 // BitFramingReg
	collPosNotValid     = 0x20 // CollReg
	tModeTAuto          = 0x80 // TModeReg
	txControlAntennaOn  = 0x83 // TxControlReg reset value 0x80 with Tx1RFEn and Tx2RFEn
	txControlAntennaOff = 0x80 // TxControlReg reset value: TX1 and TX2 off
	txASKForce100       = 0x40 // TxASKReg: 100 % ASK, as ISO 14443A needs
	modeCRCPreset6363   = 0x3D // ModeReg: TxWaitRF, MFIN active high, CRC preset 6363h (CRC_A)
	autoTestSelfTest    = 0x09
	autoTestNormal      = 0x00
	comIEnExchangeDone  = irqInv | irqRx | irqTimer
	valuesAfterCollZero = 0x00 // CollReg: bits after a collision read as 0 (needed by anticollision)
)

// Timer: a 9.96 µs tick (13.56 MHz / (2·67 + 1)), started by the end of each
// frame sent (TAuto); 31 ticks give a card 309 µs to start its answer, where
// ISO 14443-3 says 86 to 91 µs for REQA, WUPA, ANTICOLLISION and SELECT.
const (
	timerPrescaler = 0x043
	timerReload    = 30
)

// ISO 14443-3 type A commands.
const (
	piccREQA = 0x26
	piccWUPA = 0x52
	piccHLTA = 0x50
	piccCT   = 0x88 // cascade tag
	nvbSel   = 0x70 // NVB of a SELECT: 7 bytes
	nvbAll   = 0x60 // NVB of an ANTICOLLISION carrying a whole UID CLn: the card answers its BCC
	sakMore  = 0x04 // SAK bit 2: UID not complete
)
