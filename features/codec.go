package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// StateVersion is the first byte of every encoded State. A build reads the
// versions it lists in decodable and rejects others with ErrStateVersion, so a
// store written by a newer (or much older) build fails loudly instead of reading
// garbage.
const StateVersion = 3

// stateVersion2 is the previous format, still decoded: it lacks the
// per-channel send hours (chSlotSent), so a decoded version 2 state holds its
// contacts under an unknown hour, which weighs like an active one (the
// channel evidence reads as before version 3 until new contacts arrive).
const stateVersion2 = 2

// ErrStateVersion is wrapped by UnmarshalBinary for an encoding of an unknown
// format version.
var ErrStateVersion = errors.New("unsupported feature state version")

// MarshalBinary encodes the state compactly for the store (see AppendBinary).
func (s *State) MarshalBinary() ([]byte, error) { return s.AppendBinary(make([]byte, 0, 256)) }

// AppendBinary appends the state's encoding to b: the version byte, then varints
// in a fixed field order; instants as distances back from the latest event, the
// hour-of-week counts sparse. Every field is kept, so decoding is lossless.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, StateVersion)
	b = binary.AppendVarint(b, s.last)
	t := func(b []byte, v int64) []byte {
		if v == 0 {
			return append(b, 0)
		}
		return binary.AppendUvarint(b, zigzag(s.last-v)+1)
	}
	u := func(b []byte, v uint32) []byte { return binary.AppendUvarint(b, uint64(v)) }
	for c := 0; c < numChannels; c++ {
		b = u(b, s.sent[c])
		b = u(b, s.delivered[c])
		b = u(b, s.engagements[c])
		b = u(b, s.engagedContacts[c])
		b = t(b, s.lastEngaged[c])
		b = t(b, s.lastContact[c])
		b = append(b, byte(s.lastContactMsg[c]+1))
	}
	b = append(b, s.contactEngaged, s.optedOut)
	for m := 0; m < numMessages; m++ {
		b = u(b, s.msgSent[m])
		b = u(b, s.msgResp[m])
		b = u(b, s.msgPaid[m])
	}
	b = append(b, byte(s.lastMsg+1), boolByte(s.lastMsgPaid))
	b = t(b, s.lastMsgAt)
	nz := 0
	for _, n := range s.how {
		if n != 0 {
			nz++
		}
	}
	b = binary.AppendUvarint(b, uint64(nz))
	prev := -1
	for h, n := range s.how {
		if n != 0 {
			b = binary.AppendUvarint(b, uint64(h-prev-1))
			b = u(b, n)
			prev = h
		}
	}
	b = u(b, s.payments)
	b = binary.AppendVarint(b, s.paid)
	b = t(b, s.lastPayment)
	b = u(b, s.promises)
	b = u(b, s.kept)
	b = append(b, boolByte(s.promiseOpen))
	b = t(b, s.promiseAt)
	b = binary.AppendVarint(b, s.promiseAmt)
	b = binary.AppendVarint(b, s.promisePaid)
	b = u(b, s.contacts)
	b = t(b, s.lastContactAny)
	b = append(b, s.recentN)
	for i := 0; i < int(s.recentN); i++ {
		b = t(b, s.recent[(int(s.recentHead)+i)%recentCap])
	}
	b = u(b, s.complaints)
	b = u(b, s.optOuts)
	b = u(b, s.disputes)
	b = u(b, s.cessions)
	// version 2: send-slot response, sparse over the hours with sends.
	b = append(b, s.lastContactSlot[:]...)
	var mask uint32
	for h, n := range s.slotSent {
		if n != 0 {
			mask |= 1 << h
		}
	}
	b = binary.AppendUvarint(b, uint64(mask))
	for h, n := range s.slotSent {
		if n != 0 {
			b = u(b, n)
			b = u(b, s.slotResp[h])
		}
	}
	// version 3: contacts per channel and send hour, sparse.
	for c, mask := range s.chSlotMask {
		if s.sent[c] == 0 {
			continue // every count is 0: the mask is implied
		}
		b = binary.AppendUvarint(b, uint64(mask))
		for ; mask != 0; mask &= mask - 1 {
			b = u(b, s.chSlotSent[c][bits.TrailingZeros32(mask)])
		}
	}
	return b, nil
}

// UnmarshalBinary replaces the state with a decoded one. It rejects unknown
// versions (wrapping ErrStateVersion), truncated or trailing bytes, and values out
// of range, leaving the state unchanged on error.
func (s *State) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return errors.New("decode feature state: empty")
	}
	if data[0] != StateVersion && data[0] != stateVersion2 {
		return fmt.Errorf("decode feature state: version %d, this build reads %d and %d: %w", data[0], stateVersion2, StateVersion, ErrStateVersion)
	}
	d := decoder{b: data[1:]}
	var n State
	n.last = d.varint()
	for c := 0; c < numChannels; c++ {
		n.sent[c] = d.u32()
		n.delivered[c] = d.u32()
		n.engagements[c] = d.u32()
		n.engagedContacts[c] = d.u32()
		n.lastEngaged[c] = d.time(n.last)
		n.lastContact[c] = d.time(n.last)
		n.lastContactMsg[c] = d.code(numMessages)
	}
	n.contactEngaged = d.byte()
	n.optedOut = d.byte()
	for m := 0; m < numMessages; m++ {
		n.msgSent[m] = d.u32()
		n.msgResp[m] = d.u32()
		n.msgPaid[m] = d.u32()
	}
	n.lastMsg = d.code(numMessages)
	n.lastMsgPaid = d.bool()
	n.lastMsgAt = d.time(n.last)
	nz := d.uvarint()
	if nz > hoursOfWeek {
		d.fail("hour-of-week entries %d > %d", nz, hoursOfWeek)
	}
	h := -1
	for i := 0; i < int(nz) && d.err == nil; i++ {
		h += int(d.uvarint()) + 1
		if h < 0 || h >= hoursOfWeek {
			d.fail("hour of week %d out of range", h)
			break
		}
		n.how[h] = d.u32()
		n.nEng += n.how[h]
	}
	n.payments = d.u32()
	n.paid = d.varint()
	n.lastPayment = d.time(n.last)
	n.promises = d.u32()
	n.kept = d.u32()
	n.promiseOpen = d.bool()
	n.promiseAt = d.time(n.last)
	n.promiseAmt = d.varint()
	n.promisePaid = d.varint()
	n.contacts = d.u32()
	n.lastContactAny = d.time(n.last)
	n.recentN = d.byte()
	if n.recentN > recentCap {
		d.fail("recent contacts %d > %d", n.recentN, recentCap)
	}
	for i := 0; i < int(n.recentN) && d.err == nil; i++ {
		n.recent[i] = d.time(n.last)
	}
	n.complaints = d.u32()
	n.optOuts = d.u32()
	n.disputes = d.u32()
	n.cessions = d.u32()
	for c := 0; c < numChannels; c++ {
		n.lastContactSlot[c] = d.byte()
		if n.lastContactSlot[c] > 24 {
			d.fail("contact slot %d out of range", n.lastContactSlot[c])
		}
	}
	mask := d.uvarint()
	if mask >= 1<<24 {
		d.fail("send-slot mask %#x out of range", mask)
	}
	for h := 0; h < 24 && d.err == nil; h++ {
		if mask&(1<<h) == 0 {
			continue
		}
		n.slotSent[h] = d.u32()
		n.slotResp[h] = d.u32()
		if n.slotSent[h] == 0 || n.slotResp[h] > n.slotSent[h] {
			d.fail("send slot %d: %d responses to %d sends", h, n.slotResp[h], n.slotSent[h])
		}
	}
	for c := 0; c < numChannels && d.err == nil; c++ {
		if n.sent[c] == 0 {
			continue
		}
		if data[0] == stateVersion2 {
			n.chSlotSent[c][unknownSlot] = n.sent[c]
			n.chSlotMask[c] = 1 << unknownSlot
			continue
		}
		mask := d.uvarint()
		if mask == 0 || mask >= 1<<25 {
			d.fail("channel %d send-hour mask %#x out of range", c, mask)
			break
		}
		n.chSlotMask[c] = uint32(mask)
		var sum uint64
		for m := uint32(mask); m != 0 && d.err == nil; m &= m - 1 {
			h := bits.TrailingZeros32(m)
			n.chSlotSent[c][h] = d.u32()
			if n.chSlotSent[c][h] == 0 {
				d.fail("channel %d send hour %d: zero count listed", c, h)
			}
			sum += uint64(n.chSlotSent[c][h])
		}
		if d.err == nil && sum != uint64(n.sent[c]) {
			d.fail("channel %d: %d contacts by send hour, %d sent", c, sum, n.sent[c])
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("decode feature state: %w", d.err)
	}
	*s = n
	return nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// decoder reads varints with a sticky error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) uvarint() uint64 {
	if len(d.b) > 0 && d.b[0] < 0x80 && d.err == nil { // most values fit one byte
		v := uint64(d.b[0])
		d.b = d.b[1:]
		return v
	}
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated or overlong varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("truncated or overlong varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail("counter %d overflows uint32", v)
		return 0
	}
	return uint32(v)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool {
	c := d.byte()
	if c > 1 {
		d.fail("bool byte %d", c)
	}
	return c == 1
}

// code reads a vocabulary index stored +1 (0 = none).
func (d *decoder) code(n int) int8 {
	c := d.byte()
	if int(c) > n {
		d.fail("code %d out of range", c)
		return -1
	}
	return int8(c) - 1
}

func (d *decoder) time(last int64) int64 {
	v := d.uvarint()
	if v == 0 {
		return 0
	}
	return last - unzigzag(v-1)
}
