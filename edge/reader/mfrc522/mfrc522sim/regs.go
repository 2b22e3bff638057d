package mfrc522sim

// Register addresses (MFRC522 datasheet, section 9.2). The simulator keeps its
// own copy rather than importing the driver's, so that a wrong constant on
// one side shows up as a failing test instead of agreeing with itself.
const (
	regCommand     = 0x01
	regComIEn      = 0x02
	regDivIEn      = 0x03
	regComIrq      = 0x04
	regDivIrq      = 0x05
	regError       = 0x06
	regStatus1     = 0x07
	regStatus2     = 0x08
	regFIFOData    = 0x09
	regFIFOLevel   = 0x0A
	regWaterLevel  = 0x0B
	regControl     = 0x0C
	regBitFraming  = 0x0D
	regColl        = 0x0E
	regMode        = 0x11
	regTxMode      = 0x12
	regRxMode      = 0x13
	regTxControl   = 0x14
	regTxASK       = 0x15
	regTxSel       = 0x16
	regRxSel       = 0x17
	regRxThreshold = 0x18
	regDemod       = 0x19
	regMfTx        = 0x1C
	regMfRx        = 0x1D
	regSerialSpeed = 0x1F
	regCRCResultH  = 0x21
	regCRCResultL  = 0x22
	regModWidth    = 0x24
	regRFCfg       = 0x26
	regGsN         = 0x27
	regCWGsP       = 0x28
	regModGsP      = 0x29
	regTMode       = 0x2A
	regTPrescaler  = 0x2B
	regTReloadH    = 0x2C
	regTReloadL    = 0x2D
	regTCounterH   = 0x2E
	regTCounterL   = 0x2F
	regTestSel1    = 0x31
	regTestSel2    = 0x32
	regTestPinEn   = 0x33
	regTestPinVal  = 0x34
	regTestBus     = 0x35
	regAutoTest    = 0x36
	regVersion     = 0x37
	regAnalogTest  = 0x38
	regTestDAC1    = 0x39
	regTestDAC2    = 0x3A
	regTestADC     = 0x3B
)

// Commands (CommandReg[3:0]).
const (
	cmdIdle       = 0x0
	cmdMem        = 0x1
	cmdRandomID   = 0x2
	cmdCalcCRC    = 0x3
	cmdTransmit   = 0x4
	cmdNoChange   = 0x7
	cmdReceive    = 0x8
	cmdTransceive = 0xC
	cmdMFAuthent  = 0xE
	cmdSoftReset  = 0xF
)

// Register bits.
const (
	commandPowerDown = 0x10
	commandRcvOff    = 0x20

	irqSet    = 0x80 // ComIrq Set1 / DivIrq Set2
	irqTx     = 0x40
	irqRx     = 0x20
	irqIdle   = 0x10
	irqHiAl   = 0x08
	irqLoAl   = 0x04
	irqErr    = 0x02
	irqTimer  = 0x01
	irqInv    = 0x80 // ComIEn IRqInv
	divCRCIRq = 0x04

	errWr       = 0x80
	errTemp     = 0x40
	errBufOvfl  = 0x10
	errColl     = 0x08
	errCRC      = 0x04
	errParity   = 0x02
	errProtocol = 0x01

	status1CRCOk    = 0x40
	status1CRCReady = 0x20
	status1IRq      = 0x10
	status1TRunning = 0x08
	status1HiAlert  = 0x02
	status1LoAlert  = 0x01

	status2Crypto1On = 0x08

	fifoFlush = 0x80

	controlTStopNow  = 0x80
	controlTStartNow = 0x40

	bitFramingStartSend = 0x80

	collValuesAfterColl = 0x80
	collPosNotValid     = 0x20

	crcEnable = 0x80 // TxModeReg / RxModeReg bit 7

	tModeTAuto        = 0x80
	tModeTAutoRestart = 0x10

	autoTestSelfTest = 0x09
)

// Modem states (Status2Reg[2:0]).
const (
	modemIdle         = 0
	modemWaitStart    = 1
	modemTxWait       = 2
	modemTransmitting = 3
	modemRxWait       = 4
	modemWaitData     = 5
	modemReceiving    = 6
)

// resetValue is a register's content after a power-on, hard or soft reset
// (datasheet section 9.3). Registers not listed reset to 0.
func resetValue(reg byte) byte {
	switch reg {
	case regCommand:
		return 0x20
	case regComIEn:
		return 0x80
	case regComIrq:
		return 0x14
	case regStatus1:
		return 0x21
	case regWaterLevel:
		return 0x08
	case regControl:
		return 0x10
	case regColl:
		return 0xA0
	case regMode:
		return 0x3F
	case regTxControl:
		return 0x80
	case regTxSel:
		return 0x10
	case regRxSel:
		return 0x84
	case regRxThreshold:
		return 0x84
	case regDemod:
		return 0x4D
	case regMfTx:
		return 0x62
	case regSerialSpeed:
		return 0xEB
	case regCRCResultH:
		return 0xFF
	case regCRCResultL:
		return 0xFF
	case regModWidth:
		return 0x26
	case regRFCfg:
		return 0x48
	case regGsN:
		return 0x88
	case regCWGsP:
		return 0x20
	case regModGsP:
		return 0x20
	case regTestPinEn:
		return 0x80
	case regAutoTest:
		return 0x40
	}
	return 0
}

// reserved lists the addresses the datasheet marks reserved: they read 0 and
// a write to them is a bus violation.
func reserved(reg byte) bool {
	switch reg {
	case 0x00, 0x10, 0x1A, 0x1B, 0x1E, 0x20, 0x23, 0x25, 0x30, 0x3C, 0x3D, 0x3E, 0x3F:
		return true
	}
	return false
}
