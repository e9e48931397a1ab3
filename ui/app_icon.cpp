// appIcon: loads resources/icons/qatlab.svg or paints its geometry (kept in sync with it).
#include "app_icon.h"

#include <QImageReader>
#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

namespace qatui {

namespace {

QPixmap paintIcon(int size) {
    QPixmap pm(size, size);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.scale(size / 256.0, size / 256.0); // the SVG's 256x256 view box
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(0x1f, 0x3a, 0x5f));
    p.drawRoundedRect(QRectF(8, 8, 240, 240), 48, 48);

    QPainterPath stairs;
    stairs.moveTo(40, 196);
    for (const QPointF& pt : {QPointF(76, 196), QPointF(76, 180), QPointF(112, 180),
                              QPointF(112, 140), QPointF(148, 140), QPointF(148, 100),
                              QPointF(184, 100), QPointF(184, 68), QPointF(216, 68)})
        stairs.lineTo(pt);
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(QColor(0xf5, 0xa6, 0x23), 14, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    p.drawPath(stairs);

    QPainterPath curve;
    curve.moveTo(40, 200);
    curve.cubicTo(120, 200, 136, 60, 216, 60);
    p.setPen(QPen(Qt::white, 8, Qt::SolidLine, Qt::RoundCap));
    p.drawPath(curve);
    return pm;
}

} // namespace

QIcon appIcon() {
    if (QImageReader::supportedImageFormats().contains("svg"))
        return QIcon(QStringLiteral(":/icons/qatlab.svg"));
    QIcon icon;
    for (int size : {16, 24, 32, 48, 64, 128, 256})
        icon.addPixmap(paintIcon(size));
    return icon;
}

} // namespace qatui
